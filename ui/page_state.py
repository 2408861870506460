"""Settings that survive leaving a page, a browser reload and a shared link.

Streamlit forgets a widget's value when its page is left (the widget is not drawn, so its state is dropped), and a
reload starts a new session. So a page's settings widgets take their first value from ``recall``:

1. what the widget held when this session last showed the page (kept by ``publish`` at the end of every run);
2. on the page's first run in a session, the URL (``?epochs=3&model=cnn``): a reload, or a link a teacher hands a
   class, restores the settings;
3. the default.

``publish`` also writes the settings into the URL (``st.query_params``), only those that differ from their default,
so the address bar always holds a link to exactly this form. Other query parameters (``?teacher=...``) are kept.

    begin("train")                                            # top of the page
    st.number_input("Epochs", 1, value=recall(k, 10, "epochs"), key=k)
    publish()                                                 # after the settings widgets
"""
from __future__ import annotations

import json
from typing import Any, Callable

import streamlit as st

STATE = "_page_state"  # session_state: {"page", "runs": {page: n}, "memory": {key: value}, "urls": {page: names}}


def _state() -> dict:
    return st.session_state.setdefault(STATE, {"page": None, "runs": {}, "memory": {}, "urls": {}, "now": {}})


def begin(page: str) -> None:
    """Start a run of ``page`` (call it at the top): counts the page's runs, so only the first reads the URL."""
    state = _state()
    state["page"] = page
    state["runs"][page] = state["runs"].get(page, 0) + 1
    state["now"] = {}  # widget key -> (url name, default) recalled in this run


def first_run() -> bool:
    """True during the page's first run in this session (the URL is read only then)."""
    state = _state()
    return state["runs"].get(state["page"], 0) <= 1


def url_value(name: str, default: Any) -> Any:
    """The URL's ``?name=`` parsed to ``default``'s type, on the page's first run; ``default`` otherwise or when
    missing or unreadable."""
    if not first_run() or name not in st.query_params:
        return default
    try:
        return decode(st.query_params[name], default)
    except (TypeError, ValueError):
        return default


def recall(key: str, default: Any, url: str | None = None, *, allowed: Callable[[Any], bool] | None = None) -> Any:
    """The value the widget ``key`` starts from (see the module docstring); ``url`` names it in the address bar.
    A remembered or URL value that ``allowed`` refuses (out of a widget's range, not among its options) is dropped
    for ``default``: a hand-edited link cannot break the page."""
    state = _state()
    state["now"][key] = (url, default)
    value = state["memory"].get(key, default)
    if key not in state["memory"] and url:
        value = url_value(url, default)
    if allowed is not None and value != default and not allowed(value):
        return default
    return value


def index_of(options, key: str, default: Any, url: str | None = None) -> int:
    """``recall`` for a select box or radio: the index of the recalled option (the default's if it is gone)."""
    options = list(options)
    value = recall(key, default, url, allowed=lambda v: v in options)
    return options.index(value) if value in options else (options.index(default) if default in options else 0)


def publish(extra: dict[str, Any] | None = None) -> None:
    """Remember the current value of every widget recalled in this run, and put the URL-named ones that differ from
    their default (and ``extra``: name -> value, None to drop) into the address bar."""
    state = _state()
    wanted: dict[str, str] = {}
    for key, (url, default) in state["now"].items():
        if key not in st.session_state:
            continue
        value = st.session_state[key]
        state["memory"][key] = value
        if url and value != default:
            wanted[url] = encode(value)
    for name, value in (extra or {}).items():
        if value is not None:
            wanted[name] = encode(value)
    ours = state["urls"].setdefault(state["page"], set())
    for name in ours - set(wanted):
        if name in st.query_params:
            del st.query_params[name]
    for name, text in wanted.items():
        if st.query_params.get(name) != text:
            st.query_params[name] = text
    ours |= set(wanted)


def encode(value: Any) -> str:
    """A widget value as URL text: '1'/'0' for booleans, numbers as Python writes them, lists as JSON."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple)):
        return json.dumps(list(value))
    return str(value)


def decode(text: str, like: Any) -> Any:
    """URL text back to the type of ``like`` (the widget's default); ValueError when it does not fit."""
    if isinstance(like, bool):
        if text not in ("0", "1", "true", "false"):
            raise ValueError(text)
        return text in ("1", "true")
    if isinstance(like, int):
        return int(text)
    if isinstance(like, float):
        return float(text)
    if isinstance(like, (list, tuple)):
        items = json.loads(text)
        if not isinstance(items, list) or len(items) != len(like):
            raise ValueError(text)
        return type(like)(decode(json.dumps(v) if not isinstance(v, str) else v, d) for v, d in zip(items, like))
    return str(text)


DATA_SOURCE = "data_source"  # ui.data_ui's session key: the data source the pickers start from


def url_data_source() -> None:
    """On the page's first run, ``?data=`` in the URL becomes the data picker's starting choice."""
    if first_run() and st.query_params.get("data"):
        st.session_state[DATA_SOURCE] = st.query_params["data"]


def shareable(source: str | None) -> str | None:
    """``source`` when the address bar may carry it (so a reload restores it), else None:

    - built-in data and folders under the data root, always;
    - on a lab that is not served (one person's machine), also a folder or file typed from anywhere;
    - never an upload's unpacked folder: it belongs to one session, and its path is the server's own (the upload
      picker says that a reload starts without it)."""
    from pathlib import Path

    from core.access import shared_source, uploads_dir
    from core.settings import load_settings

    if not source:
        return None
    if shared_source(source):
        return source
    settings = load_settings()
    if settings.served or source.startswith(("builtin:", "toy:")):
        return None
    return None if Path(source).expanduser().resolve().is_relative_to(uploads_dir(settings)) else source
