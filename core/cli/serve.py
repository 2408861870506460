"""``python -m core serve --processes K``: K Streamlit processes on one machine for a room, behind one address.

One Streamlit process runs every session's script in one Python process, so a room is limited by one core's worth of
Python however many cores the machine has. ``serve`` starts K processes (ports PORT+1 .. PORT+K) that share the runs
root and the job queue (SQLite in WAL mode, file-lock slots), and a landing address on PORT that sends each browser to
one of them and keeps it there: the first visit is given the least-used process and a cookie naming it; later visits
(a reload, a new tab, a link) go back to the same one, so a student's session and jobs stay on one process.

Students then talk to their process directly (the landing does not relay the websocket), so the landing costs
nothing while the class works. Workers are started in their own session: stopping ``serve`` (or restarting its
service unit with ``KillMode=process``) leaves running jobs to finish (docs/serving.md).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COOKIE = "dllab_backend"  # which of the K processes this browser belongs to
COOKIE_DAYS = 1  # a school day; a new day spreads the room afresh


class Backends:
    """The K processes' ports and how many browsers each was given (thread-safe)."""

    def __init__(self, ports: list[int]):
        self.ports, self.given = list(ports), [0] * len(ports)
        self._lock = threading.Lock()

    def pick(self, cookie_value: str | None) -> tuple[int, bool]:
        """(index of the process for this browser, whether it is a new assignment). A valid cookie keeps its process;
        otherwise the process given the fewest browsers so far (the first of them on a tie)."""
        with self._lock:
            if cookie_value is not None and cookie_value.isdigit() and int(cookie_value) < len(self.ports):
                return int(cookie_value), False
            index = self.given.index(min(self.given))
            self.given[index] += 1
            return index, True


def landing_handler(backends: Backends) -> type[BaseHTTPRequestHandler]:
    class Landing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            cookies = SimpleCookie(self.headers.get("Cookie", ""))
            index, new = backends.pick(cookies[COOKIE].value if COOKIE in cookies else None)
            host = (self.headers.get("Host") or "127.0.0.1").rsplit(":", 1)[0]
            self.send_response(302)
            self.send_header("Location", f"http://{host}:{backends.ports[index]}{self.path}")
            if new:
                self.send_header("Set-Cookie", f"{COOKIE}={index}; Path=/; Max-Age={COOKIE_DAYS * 86400}; "
                                               "SameSite=Lax; HttpOnly")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_HEAD = do_GET

        def log_message(self, *args) -> None:  # the landing is quiet; Streamlit logs the sessions
            pass

    return Landing


def add_arguments(parser) -> None:
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="Streamlit processes to start (default: one per core)")
    parser.add_argument("--port", type=int, default=8501, help="the landing address's port; the processes use the "
                                                               "next K ports")
    parser.add_argument("--address", default=None,
                        help="interface to listen on (default: core.settings.server_address: every interface when "
                             "served = true in lab.toml, else this machine only)")


def start_processes(ports: list[int], address: str, script: str) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / script), "--server.headless",
                              "true", "--server.port", str(port), "--server.address", address], cwd=ROOT)
            for port in ports]


def run(args) -> int:
    from core.settings import load_settings, server_address

    if args.processes < 1:
        print("serve: --processes must be at least 1", file=sys.stderr)
        return 2
    settings = load_settings()
    address = args.address or server_address(settings)
    ports = [args.port + 1 + i for i in range(args.processes)]
    # served: serve.py (the teacher link becomes an HttpOnly cookie before any page sees it); else app.py
    procs = start_processes(ports, address, "serve.py" if settings.served else "app.py")
    server = ThreadingHTTPServer((address, args.port), landing_handler(Backends(ports)))
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"serve: http://{address}:{args.port} -> {len(ports)} processes on ports {ports[0]}-{ports[-1]}",
          file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
    return 0
