"""The teacher link at the HTTP level (serve.py): ``?teacher=TOKEN`` never reaches a page.

A page request that carries ``teacher=`` is answered with a redirect to the same address without it. With the right
token the redirect sets the teacher cookie as **HttpOnly** (no script on the page can read it) and SameSite=Strict,
holding ``core.access.teacher_pass(token)``, never the token; ``ui.session.is_teacher`` reads it from the websocket's
request (``st.context.cookies``). A wrong token clears the cookie and redirects with an empty ``teacher=``, which the
page answers with one sentence (``ui.session``) and removes.

This is a plain ASGI middleware for ``st.App`` (Streamlit's Starlette server); under ``streamlit run app.py`` the
page does the same exchange itself (ui.session), with a cookie a script has to write (so not HttpOnly).
"""
from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from core.access import TEACHER_COOKIE, TEACHER_DAYS, is_teacher_token, teacher_pass
from core.settings import load_settings


def teacher_redirect(path: str, query: str) -> tuple[str, str] | None:
    """For a request to ``path?query``: None when it has no ``teacher=``; else (where to redirect, the Set-Cookie
    value).

    >>> teacher_redirect("/Train", "a=1")
    >>> teacher_redirect("/Train", "teacher=wrong&a=1")[0]
    '/Train?a=1&teacher='
    """
    pairs = parse_qsl(query, keep_blank_values=True)
    given = next((v for k, v in pairs if k == "teacher"), None)
    if not given:
        return None  # no token (an empty one is the page's "wrong token" signal: let it through)
    rest = [(k, v) for k, v in pairs if k != "teacher"]
    settings = load_settings()
    if is_teacher_token(given, settings):
        cookie = (f"{TEACHER_COOKIE}={teacher_pass(settings.teacher_token)}; Path=/; "
                  f"Max-Age={TEACHER_DAYS * 86400}; HttpOnly; SameSite=Strict")
    else:
        cookie = f"{TEACHER_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
        rest.append(("teacher", ""))  # the page says the link was wrong, then drops it
    return path + (f"?{urlencode(rest)}" if rest else ""), cookie


class TeacherLink:
    """ASGI middleware: answer a page request carrying ``teacher=`` with ``teacher_redirect``."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope.get("method") in ("GET", "HEAD"):
            answer = teacher_redirect(scope.get("root_path", "") + scope["path"],
                                      scope.get("query_string", b"").decode("latin-1"))
            if answer is not None:
                location, cookie = answer
                await send({"type": "http.response.start", "status": 303,
                            "headers": [(b"location", location.encode("latin-1")), (b"set-cookie", cookie.encode()),
                                        (b"cache-control", b"no-store"), (b"referrer-policy", b"no-referrer"),
                                        (b"content-length", b"0")]})
                await send({"type": "http.response.body", "body": b""})
                return
        await self.app(scope, receive, send)
