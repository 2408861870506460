"""Who is using this browser session: the user id runs are recorded under, and whether it is the teacher.

The user is the name a reverse proxy puts in the header named by ``user_header`` in lab.toml (real log-ins), else a
random id kept in a browser cookie, so a reload or a new tab is the same user (a Streamlit session is per tab and
dies with a reload).

The teacher opens any page once with ``?teacher=TOKEN`` (``teacher_token`` in lab.toml): ``teacher_gate`` (run by
app.py on every page) takes the token out of the address bar at once and leaves a SameSite=Strict cookie that holds
a keyed hash of the token (never the token itself), so teacher mode survives a reload and the token is not in the
history, in proxy logs or in a link copied from the address bar. A wrong token gets one clear sentence.
"""
from __future__ import annotations

import re
import uuid

import streamlit as st
import streamlit.components.v1 as components

from core.access import (TEACHER_COOKIE, TEACHER_DAYS, can_control, is_teacher_pass, is_teacher_token,
                         teacher_pass)
from core.settings import load_settings
from core.train.store import list_runs

COOKIE = "dllab_user"
_ID = re.compile(r"^[0-9a-f]{32}$")  # what current_user makes; anything else in the cookie is ignored


def current_user() -> str:
    """The session's user: the proxy's header when configured and present, else a browser-held random id."""
    settings = load_settings()
    if settings.user_header:
        name = (st.context.headers.get(settings.user_header) or "").strip()
        if name:
            return name
    user = st.session_state.get("_dllab_user")
    if user is None:
        cookie = _cookie(COOKIE)
        user = cookie if _ID.match(cookie) else uuid.uuid4().hex
        st.session_state["_dllab_user"] = user
    if _cookie(COOKIE) != user and not st.session_state.get("_dllab_cookie_set"):
        _set_cookie(user)
        st.session_state["_dllab_cookie_set"] = True
    return user


def _cookie(name: str) -> str:
    """The browser's cookie ``name`` ("" when absent; also under AppTest, whose context has no real cookies)."""
    value = st.context.cookies.get(name)
    return value if isinstance(value, str) else ""


def _set_cookie(user: str) -> None:
    """Keep ``user`` in the browser for a year (the component's frame shares the app's origin)."""
    components.html(f"<script>window.parent.document.cookie = '{COOKIE}={user}; path=/; max-age=31536000; "
                    "SameSite=Strict';</script>", height=0)


def is_teacher() -> bool:
    """True when this session is the teacher's: the token came in this session (``?teacher=TOKEN``, exchanged here
    or by ``teacher_gate``), or the browser holds the teacher cookie for the current ``teacher_token``."""
    _exchange_token()
    if st.session_state.get("_dllab_teacher") is not None:  # decided in this session (a token, right or wrong)
        return st.session_state["_dllab_teacher"]
    if is_teacher_pass(_cookie(TEACHER_COOKIE)):
        st.session_state["_dllab_teacher"] = True
        return True
    return False


def _exchange_token() -> None:
    """``?teacher=TOKEN`` in the URL: out of the address bar at once; the right token turns teacher mode on and
    leaves the cookie, a wrong one says so (one sentence, once)."""
    given = st.query_params.get("teacher")
    if given is None:
        return
    del st.query_params["teacher"]  # out of the address bar (and the history entry) on the first visit
    if is_teacher_token(given):
        st.session_state["_dllab_teacher"] = True
        _set_teacher_cookie(teacher_pass(load_settings().teacher_token))
    else:  # a wrong token ends teacher mode in this browser too (a shared computer: the next user is a student)
        st.session_state["_dllab_teacher"] = False
        _set_teacher_cookie("", days=0)
        st.error("That teacher link is not valid on this server (the token does not match teacher_token in "
                 "lab.toml, or none is set), so teacher mode is off.")


def teacher_gate() -> None:
    """On every page (app.py, before the page): exchange ``?teacher=TOKEN`` for the teacher cookie and remove it
    from the address bar (a wrong token is said once); while teacher mode is on, a banner says so (every run
    listed, with its owner; stop and delete allowed on all of them)."""
    if is_teacher():
        st.info("🎓 **Teacher mode**: you see every run in the room, with its owner, and may stop or delete any of "
                "them.")


def _set_teacher_cookie(value: str, days: float = TEACHER_DAYS) -> None:
    """Write (``days`` 0: remove) the teacher cookie in the browser (the component's frame shares the app's
    origin). A script cannot send a Set-Cookie header, so this one is not HttpOnly (served through serve.py, the
    link never reaches the page: ui.teacher_link sets an HttpOnly one). It holds ``teacher_pass(token)``, which
    proves the token to this server and cannot be turned back into it."""
    components.html(f"<script>window.parent.document.cookie = '{TEACHER_COOKIE}={value}; path=/; "
                    f"max-age={int(days * 86400)}; SameSite=Strict';</script>", height=0)


def may_control(info) -> bool:
    """May this session stop, resume or delete the run ``info`` (core.access.can_control: owner or teacher)."""
    return can_control(info, current_user(), teacher=is_teacher())


def owner_label(owner: str | None, me: str | None = None) -> str:
    """Whose run it is, in words: 'you', the proxy's user name, 'student 3f2a9c' for a browser's random id, or
    'command line' for a run started outside the app.

    >>> owner_label("3f2a9c" + "0" * 26), owner_label("ann", me="ann"), owner_label(None)
    ('student 3f2a9c', 'you', 'command line')
    """
    if owner is None:
        return "command line"
    if owner == me:
        return "you"
    return f"student {owner[:6]}" if re.fullmatch(r"[0-9a-f]{32}", owner) else owner


def owner_caption(info: RunInfo) -> None:
    """On a served lab, for a run this session does not own: whose it is, and that it is read-only here."""
    if not load_settings().served or info.owner == current_user():
        return
    who = owner_label(info.owner)
    if may_control(info):
        st.caption(f"👤 Started by {who}; teacher mode lets you stop or delete it.")
    else:
        st.caption(f"👤 Started by {who}: you can look at it, but only they can stop, resume or delete it.")


def my_runs(kind: str | None = "train", runs_dir=None) -> list:
    """The runs of ``kind`` (None: every kind) this session may see (core.access.visible_runs), newest first: the one
    query every page and widget uses to list runs."""
    from core.access import visible_runs

    return visible_runs(list_runs(runs_dir, kind=kind), current_user(), teacher=is_teacher())
