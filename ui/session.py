"""Who is using this browser session: the user id runs are recorded under, and whether it is the teacher.

The user is the name a reverse proxy puts in the header named by ``user_header`` in lab.toml (real log-ins), else a
random id kept in a browser cookie, so a reload or a new tab is the same user (a Streamlit session is per tab and
dies with a reload). The teacher is a session that opened any page with ``?teacher=TOKEN`` (``teacher_token``).
"""
from __future__ import annotations

import hmac
import re
import uuid

import streamlit as st
import streamlit.components.v1 as components

from core.settings import load_settings

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
        cookie = st.context.cookies.get(COOKIE)
        user = cookie if isinstance(cookie, str) and _ID.match(cookie) else uuid.uuid4().hex  # (AppTest: a mock)
        st.session_state["_dllab_user"] = user
    if st.context.cookies.get(COOKIE) != user and not st.session_state.get("_dllab_cookie_set"):
        _set_cookie(user)
        st.session_state["_dllab_cookie_set"] = True
    return user


def _set_cookie(user: str) -> None:
    """Keep ``user`` in the browser for a year (the component's frame shares the app's origin)."""
    components.html(f"<script>window.parent.document.cookie = '{COOKIE}={user}; path=/; max-age=31536000; "
                    "SameSite=Strict';</script>", height=0)


def is_teacher() -> bool:
    """True once this session has shown the teacher token (``?teacher=TOKEN``); remembered for the session."""
    if st.session_state.get("_dllab_teacher"):
        return True
    token = load_settings().teacher_token
    given = st.query_params.get("teacher")
    if token and given and hmac.compare_digest(str(given), token):
        st.session_state["_dllab_teacher"] = True
        return True
    return False
