"""The landing address of ``core serve``: a new browser goes to the least-used process, a returning one to its own."""
from __future__ import annotations

import http.client
import threading
from http.server import ThreadingHTTPServer

import pytest

from core.cli.serve import COOKIE, Backends, landing_handler


@pytest.fixture
def landing():
    server = ThreadingHTTPServer(("127.0.0.1", 0), landing_handler(Backends([9101, 9102])))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def visit(port: int, path: str = "/Train?data=builtin:digits", cookie: str | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    response = conn.getresponse()
    return response.status, response.getheader("Location"), response.getheader("Set-Cookie")


def test_new_browsers_are_spread_and_each_stays_on_its_process(landing):
    first = visit(landing)
    second = visit(landing)
    assert first[0] == second[0] == 302
    assert first[1] == "http://127.0.0.1:9101/Train?data=builtin:digits"  # the path and query are kept
    assert second[1].startswith("http://127.0.0.1:9102/")
    assert "HttpOnly" in first[2] and first[2].startswith(f"{COOKIE}=0;")
    cookie = second[2].split(";")[0]
    for _ in range(3):  # a reload, a new tab, a link: back to the same process, no new assignment
        status, location, set_cookie = visit(landing, "/LR_Finder", cookie)
        assert location == "http://127.0.0.1:9102/LR_Finder" and set_cookie is None


def test_a_cookie_for_a_process_that_does_not_exist_is_reassigned(landing):
    status, location, set_cookie = visit(landing, "/", f"{COOKIE}=7")
    assert location == "http://127.0.0.1:9101/" and set_cookie.startswith(f"{COOKIE}=0;")


def test_least_used_process_gets_the_next_browser():
    backends = Backends([1, 2, 3])
    picks = [backends.pick(None)[0] for _ in range(7)]
    assert picks == [0, 1, 2, 0, 1, 2, 0]
    assert backends.pick("2") == (2, False)
