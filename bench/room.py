"""A simulated student: one Streamlit session driven at the protocol level, as a browser on a laptop would drive it.

A student's browser runs on the student's own laptop, so the load a classroom puts on the lab's server is its
sessions, not rendering. ``Student`` speaks Streamlit's own websocket protocol (``streamlit.proto`` BackMsg /
ForwardMsg over ``/_stcore/stream``): it opens pages, sets widgets by their labels, presses buttons, answers the
server's ``auto_rerun`` requests (the fragments that follow a job, as the browser's timers would) and times each action
from the message sent to the script's ``script_finished``.

Only loopback addresses are accepted: a load test never targets another machine.
"""
from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlparse

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

WIDGETS = ("slider", "button", "selectbox", "radio", "number_input", "checkbox", "text_input", "form_submit_button",
           "segmented_control", "toggle")  # element types whose protos carry an ``id`` we may set
FINISHED = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}


def loopback_only(url: str) -> str:
    host = urlparse(url).hostname or ""
    if not (host == "localhost" or host.startswith("127.") or host == "::1"):
        raise ValueError(f"the load test talks only to this machine's loopback address, not {host!r}")
    return url


@dataclass
class Widget:
    kind: str  # the element type ('slider', 'button', ...)
    proto: object  # its protobuf (label, id, options, min/max...)
    fragment_id: str = ""  # set when it was drawn by a fragment run


@dataclass
class Action:
    """One timed action of a student: what, how long from the message sent to the script finishing, and how it went."""
    student: int
    name: str
    seconds: float
    ok: bool
    error: str = ""


@dataclass
class Student:
    """One simulated browser session. ``index`` names it in the results; each has its own user cookie."""
    url: str
    index: int
    user: str = field(default_factory=lambda: uuid.uuid4().hex)
    timeout: float = 120.0  # one action may take this long before it counts as a page that never finished
    widgets: dict[str, Widget] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)  # markdown / alerts / captions seen in the last run
    ids: set[str] = field(default_factory=set)  # element ids seen (a keyed element's id contains its key)
    exceptions: list[str] = field(default_factory=list)
    states: dict[str, object] = field(default_factory=dict)  # widget id -> WidgetState the "browser" holds
    page: str = ""
    query: str = ""
    actions: list[Action] = field(default_factory=list)
    _ws: object = None
    _finished: asyncio.Event | None = None
    _status: int = 0
    _fragments: dict[str, float] = field(default_factory=dict)  # fragment id -> interval (s), as auto_rerun asks
    _reader: asyncio.Task | None = None
    _ticker: asyncio.Task | None = None
    _running: bool = False

    async def connect(self) -> None:
        base = urlparse(loopback_only(self.url))
        ws_url = f"ws://{base.netloc}/_stcore/stream"
        self._ws = await websockets.connect(
            ws_url, subprotocols=["streamlit"], max_size=2 ** 28, open_timeout=self.timeout,
            additional_headers={"Cookie": f"dllab_user={self.user}", "Origin": f"http://{base.netloc}"})
        self._finished = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        self._ticker = asyncio.create_task(self._tick())

    async def close(self) -> None:
        for task in (self._ticker, self._reader):
            if task:
                task.cancel()
        if self._ws is not None:
            await self._ws.close()

    # -- actions ---------------------------------------------------------------------------------------------------
    async def open(self, page: str, query: str = "") -> Action:
        """Open a page (its url path, '' for Home), as a click in the sidebar does."""
        self.page, self.query, self.states = page, query, {}
        return await self._rerun(f"open {page or 'home'}")

    async def set(self, label: str, value, name: str | None = None) -> Action:
        """Set the widget labelled ``label`` to ``value`` (a number, an option's text, True for a button)."""
        w = self.widget(label)
        if w is None:
            return self._fail(name or f"set {label}", f"no widget labelled {label!r} on {self.page or 'home'}")
        self.states[w.proto.id] = (w.kind, value)
        fragment = w.fragment_id
        action = await self._rerun(name or f"set {label}", fragment_id=fragment)
        if w.kind in ("button", "form_submit_button"):
            self.states.pop(w.proto.id, None)  # a trigger is sent once
        return action

    async def wait_for(self, text: str, timeout: float) -> Action:
        """Wait (answering auto_reruns) until ``text`` shows in the page's text; times the whole wait."""
        start = time.perf_counter()
        while time.perf_counter() - start < timeout:
            if any(text in t for t in self.texts):
                return self._record(f"wait '{text}'", time.perf_counter() - start, True)
            await asyncio.sleep(0.5)
        return self._record(f"wait '{text}'", time.perf_counter() - start, False, "never showed")

    async def wait_for_key(self, key: str, timeout: float) -> Action:
        """Wait (answering auto_reruns) until an element whose key contains ``key`` shows (a result's chart)."""
        start = time.perf_counter()
        while time.perf_counter() - start < timeout:
            if any(key in i for i in self.ids):
                return self._record(f"wait '{key}'", time.perf_counter() - start, True)
            await asyncio.sleep(0.5)
        return self._record(f"wait '{key}'", time.perf_counter() - start, False, "never showed")

    async def wait_for_widget(self, label: str, timeout: float) -> Action:
        """Wait (answering auto_reruns) until a widget labelled ``label`` shows (a result's button, say)."""
        start = time.perf_counter()
        while time.perf_counter() - start < timeout:
            if self.widget(label) is not None:
                return self._record(f"wait '{label}'", time.perf_counter() - start, True)
            await asyncio.sleep(0.5)
        return self._record(f"wait '{label}'", time.perf_counter() - start, False, "never showed")

    def widget(self, label: str) -> Widget | None:
        return next((w for key, w in self.widgets.items() if key.startswith(label)), None)

    # -- protocol --------------------------------------------------------------------------------------------------
    def _client_state(self, fragment_id: str = "", auto: bool = False) -> BackMsg:
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string, cs.page_name, cs.fragment_id, cs.is_auto_rerun = self.query, self.page, fragment_id, auto
        for wid, (kind, value) in self.states.items():
            s = cs.widget_states.widgets.add()
            s.id = wid
            if kind in ("button", "form_submit_button"):
                s.trigger_value = True
            elif kind == "slider":
                s.double_array_value.data.extend([float(value)])
            elif kind in ("checkbox", "toggle"):
                s.bool_value = bool(value)
            elif kind == "number_input":
                s.double_value = float(value)
            else:  # selectbox, radio, text_input, segmented_control: the option's text
                s.string_value = str(value)
        return msg

    async def _rerun(self, name: str, fragment_id: str = "") -> Action:
        if not fragment_id:  # a full rerun: the page is drawn anew, and its fragments register again (a browser
            #                   drops its fragment timers here too; old ones would be rerun against nothing)
            self.widgets, self.texts, self.exceptions, self.ids = {}, [], [], set()
            self._fragments.clear()
        self._finished.clear()
        start = time.perf_counter()
        try:
            await self._ws.send(self._client_state(fragment_id).SerializeToString())
            await asyncio.wait_for(self._finished.wait(), self.timeout)
        except (asyncio.TimeoutError, websockets.ConnectionClosed) as exc:
            return self._record(name, time.perf_counter() - start, False, type(exc).__name__)
        ok = self._status in FINISHED and not self.exceptions
        return self._record(name, time.perf_counter() - start, ok, "; ".join(self.exceptions)[:300])

    def _record(self, name, seconds, ok, error="") -> Action:
        action = Action(self.index, name, seconds, ok, error)
        self.actions.append(action)
        return action

    def _fail(self, name, error) -> Action:
        return self._record(name, 0.0, False, error)

    async def _read(self) -> None:
        async for raw in self._ws:
            msg = ForwardMsg()
            msg.ParseFromString(raw)
            self._handle(msg)

    def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "delta":
            self._element(msg.delta, msg.metadata)
        elif kind == "script_finished":
            self._status = msg.script_finished
            if msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                self._finished.set()
        elif kind == "auto_rerun":
            self._fragments[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
        elif kind == "stop_auto_rerun":
            for fid in msg.stop_auto_rerun.fragment_ids or list(self._fragments):
                self._fragments.pop(fid, None)
        elif kind == "parent_message":
            pass

    def _element(self, delta, metadata) -> None:
        if delta.WhichOneof("type") != "new_element":
            return
        el = delta.new_element
        etype = el.WhichOneof("type")
        if etype and getattr(getattr(el, etype), "id", ""):
            self.ids.add(getattr(el, etype).id)
        if etype in WIDGETS:
            proto = getattr(el, etype)
            self.widgets[proto.label] = Widget(etype, proto)
        elif etype == "exception":
            self.exceptions.append(f"{el.exception.type}: {el.exception.message}")
        elif etype in ("markdown", "alert", "text", "caption", "heading"):
            body = getattr(el, etype)
            self.texts.append(getattr(body, "body", "") or getattr(body, "text", ""))
        elif etype == "progress":
            self.texts.append(el.progress.text)

    async def _tick(self) -> None:
        """The browser's fragment timers: rerun each registered fragment at its interval while no script runs."""
        last: dict[str, float] = {}
        while True:
            await asyncio.sleep(0.25)
            now = time.monotonic()
            for fid, interval in list(self._fragments.items()):
                if now - last.get(fid, now - interval) >= interval and self._finished.is_set():
                    last[fid] = now
                    await self._ws.send(self._client_state(fid, auto=True).SerializeToString())
