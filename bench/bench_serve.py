"""Load test of a classroom: N simulated students at the protocol level, two real browsers alongside, one server.

    .venv/bin/python bench/bench_serve.py [--students 30] [--think 10] [--processes 1] [--saturate 2]

A student's browser runs on the student's laptop, so what a room costs the server is its sessions, not rendering.
Each student (bench/room.py) speaks Streamlit's websocket protocol and works through the same exercise, waiting a
think time drawn from an exponential distribution (mean ``--think`` s) before each action:

1. open the Datasets page; 2. open Augment and move a slider three times; 3. open the LR Finder, run a range test and
wait for its result (answering the page's polling as a browser does); 4. open Train, start a 1-epoch run and wait for
its results; 5. open Adversarial and attack a sample.

Each action is timed from the message sent to the script's ``script_finished``. Reported: p50/p95 per action; errors
(an exception on the page, a widget that was not there); pages that never finished (no ``script_finished`` within the
action timeout); the server's CPU seconds per action and its peak RSS; every job's final status. A single student's
slider moves are measured first on the same server (the solo p95 the room is compared with). Two real headless
Chromium sessions open every page during the room phase and check that each still renders without an exception box.

``--saturate K`` adds a throughput measurement: the same slider moved with no think time by 8 students for 30 s, on one
process and then on K processes (``python -m core serve``), in the same run: reruns per second and their ratio.

The load test talks only to 127.0.0.1, with a bounded number of students and a time limit, and stops by itself.
"""
from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.room import Student  # noqa: E402 - after the path

MAX_STUDENTS = 60  # a bound on the simulated room
JOB_TIMEOUT = 600.0  # a job (queue included) may take this long before its page counts as never finished
PAGES = ["", "Datasets", "Augment", "LR_Finder", "Train", "GAN", "Adversarial", "Inspect"]


class Lab:
    """``python -m core serve --processes K`` on 127.0.0.1, served mode, its own runs root; CPU and RSS from /proc."""

    def __init__(self, workdir: Path, processes: int):
        self.workdir, self.port = workdir, _free_port(processes + 1)
        (workdir / "lab.toml").write_text(f'runs_dir = "{workdir / "runs"}"\nserved = true\n')
        env = dict(os.environ, DLLAB_CONFIG=str(workdir / "lab.toml"), OMP_WAIT_POLICY="PASSIVE",
                   DLLAB_ALLOW_DOWNLOADS="0")
        self.log = open(workdir / f"serve-{processes}.log", "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "core", "serve", "--processes", str(processes), "--port",
                                      str(self.port), "--address", "127.0.0.1"], cwd=ROOT, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.backends = [self.port + 1 + i for i in range(processes)]
        for port in self.backends:
            _wait_healthy(f"http://127.0.0.1:{port}")
        self.url = f"http://127.0.0.1:{self.port}"
        self.peak_rss = 0

    def assign(self, cookie: str | None = None) -> tuple[str, str]:
        """Ask the landing address where a browser goes: (its process's URL, the landing's cookie)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("GET", "/", headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        location = response.getheader("Location").rstrip("/")
        return location, (response.getheader("Set-Cookie") or cookie or "").split(";")[0]

    def servers(self) -> list[int]:
        """PIDs of the Streamlit processes (the server), not the landing nor the job workers."""
        pids = []
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and b"streamlit" in (proc / "cmdline").read_bytes() and \
                        int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                    pids.append(int(proc.name))
            except OSError:
                continue
        return pids

    def cpu_seconds(self) -> float:
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in self.servers():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick
            except OSError:
                pass
        return total

    def rss(self) -> int:
        total = 0
        for pid in self.servers():
            try:
                total += next(int(line.split()[1]) * 1024 for line in Path(f"/proc/{pid}/status").read_text()
                              .splitlines() if line.startswith("VmRSS:"))
            except (OSError, StopIteration):
                pass
        self.peak_rss = max(self.peak_rss, total)
        return total

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def _free_port(span: int) -> int:
    import socket

    while True:
        base = random.randint(20000, 40000)
        try:
            for port in range(base, base + span):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue


def _wait_healthy(url: str) -> None:
    for _ in range(480):
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"the lab at {url} did not start")


async def _student(lab: Lab, index: int, think: float, rng: random.Random, deadline: float) -> Student:
    """One student working through the exercise; a missing widget or a timeout is recorded and ends the script."""
    url, _ = lab.assign()
    s = Student(url, index)
    await s.connect()

    async def pause():
        await asyncio.sleep(min(rng.expovariate(1 / think), max(0.0, deadline - time.monotonic())))

    async def step(coro) -> bool:
        action = await coro
        return action.ok and time.monotonic() < deadline

    try:
        await pause()
        if not await step(s.open("Datasets")):
            return s
        await pause()
        if not await step(s.open("Augment")):
            return s
        slider = next((label for label, w in s.widgets.items() if w.kind == "slider"), None)
        for i in range(3):
            await pause()
            if slider is None or not await step(s.set(slider, 0.5 + 0.1 * i, name="augment slider")):
                return s
        await pause()
        if not (await step(s.open("LR_Finder")) and await step(s.set("Run the range test", True, name="lr start"))):
            return s
        if not await step(s.wait_for_key("lr-chart", JOB_TIMEOUT)):  # the sweep's result chart is drawn
            return s
        await pause()
        if not (await step(s.open("Train", "epochs=1")) and await step(s.set("Start training", True,
                                                                           name="train start"))):
            return s
        if not await step(s.wait_for("Checkpoint `", JOB_TIMEOUT)):  # the run's results are drawn
            return s
        await pause()
        if not await step(s.open("Adversarial")):
            return s
        button = next((label for label, w in s.widgets.items() if w.kind == "button" and "ttack" in label), None)
        if button:
            await step(s.set(button, True, name="attack"))
    finally:
        await s.close()
    return s


async def _browsers(lab: Lab, until: asyncio.Event) -> list[str]:
    """Two real Chromium sessions open every page in turn while the room works; what each page failed to render."""
    from playwright.async_api import async_playwright

    from tests.e2e.browser import ARGS, IDLE, SYSTEM_CHROMIUM

    problems = []
    chromium = os.environ.get("CHROMIUM") or (SYSTEM_CHROMIUM if Path(SYSTEM_CHROMIUM).exists() else None)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=ARGS)

        async def one(name: str) -> None:
            page = await (await browser.new_context(viewport={"width": 1400, "height": 1000})).new_page()
            while not until.is_set():
                for path in PAGES:
                    try:
                        await page.goto(f"{lab.url}/{path}")
                        await page.wait_for_selector(IDLE, timeout=180_000)
                        if await page.locator('[data-testid="stException"]').count():
                            problems.append(f"{name} /{path}: an exception box")
                    except Exception as err:  # noqa: BLE001 - a load test records and goes on
                        problems.append(f"{name} /{path}: {type(err).__name__}")
                    if until.is_set():
                        return
                    await asyncio.sleep(5)

        await asyncio.gather(one("browser-1"), one("browser-2"))
        await browser.close()
    return problems


def _p(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q * len(values)) - 1))]


def _table(students: list[Student]) -> dict:
    by_name: dict[str, list[float]] = {}
    for s in students:
        for a in s.actions:
            if a.ok:
                by_name.setdefault(a.name.split(" '")[0] if a.name.startswith("wait") else a.name, []).append(a.seconds)
    return {name: {"n": len(v), "p50": statistics.median(v), "p95": _p(v, 0.95)} for name, v in by_name.items()}


async def _solo(lab: Lab, moves: int = 12) -> list[float]:
    s = Student(lab.assign()[0], -1)
    await s.connect()
    await s.open("Augment")
    slider = next(label for label, w in s.widgets.items() if w.kind == "slider")
    times = [(await s.set(slider, 0.3 + 0.05 * (i % 8), name="augment slider")).seconds for i in range(moves)]
    await s.close()
    return times


async def _saturate(lab: Lab, students: int = 8, seconds: float = 30.0) -> float:
    """Reruns per second with ``students`` moving a slider back to back for ``seconds``."""
    crowd = []
    for i in range(students):
        s = Student(lab.assign()[0], i)
        await s.connect()
        await s.open("Augment")
        crowd.append(s)
    end, done = time.monotonic() + seconds, [0]

    async def mover(s: Student) -> None:
        slider = next(label for label, w in s.widgets.items() if w.kind == "slider")
        i = 0
        while time.monotonic() < end:
            if (await s.set(slider, 0.3 + 0.05 * (i % 8))).ok:
                done[0] += 1
            i += 1

    start = time.monotonic()
    await asyncio.gather(*(mover(s) for s in crowd))
    rate = done[0] / (time.monotonic() - start)
    for s in crowd:
        await s.close()
    return rate


def _jobs(runs_dir: Path) -> dict:
    from core.train.store import list_runs

    runs = list_runs(runs_dir)
    return {"total": len(runs), "by_status": {st: sum(r.status == st for r in runs) for st in {r.status for r in runs}}}


async def _room(args) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    lab = Lab(workdir, args.processes)
    try:
        await _solo(lab, 3)  # warm-up: the server imports what the pages need
        solo = await _solo(lab)
        rng = random.Random(args.seed)
        deadline = time.monotonic() + args.limit
        cpu0, t0, stop = lab.cpu_seconds(), time.monotonic(), asyncio.Event()

        async def sample_rss():
            while not stop.is_set():
                lab.rss()
                await asyncio.sleep(0.5)

        sampler = asyncio.create_task(sample_rss())
        checks = asyncio.create_task(_browsers(lab, stop)) if args.browsers else None
        students = await asyncio.gather(*(_student(lab, i, args.think, random.Random(rng.random()), deadline)
                                          for i in range(args.students)))
        stop.set()
        problems = await checks if checks else []
        await sampler
        actions = [a for s in students for a in s.actions]
        out = {"students": args.students, "think_mean_s": args.think, "processes": args.processes,
               "cpus": os.cpu_count(), "wall_s": time.monotonic() - t0, "actions": _table(students),
               "solo_slider_p95": _p(solo, 0.95), "solo_slider_p50": statistics.median(solo),
               "server_cpu_per_action_s": (lab.cpu_seconds() - cpu0) / max(1, len(actions)),
               "peak_rss_mb": lab.peak_rss / 2**20,
               "errors": [f"student {a.student}: {a.name}: {a.error}" for a in actions if not a.ok and a.error
                          and a.error not in ("TimeoutError", "never showed")],
               "never_finished": [f"student {a.student}: {a.name}" for a in actions if not a.ok and a.error in
                                  ("TimeoutError", "never showed")],
               "students_done": sum(any(a.name == "attack" or a.name == "open Adversarial" for a in s.actions)
                                    for s in students),
               "browser_problems": problems, "jobs": _jobs(workdir / "runs")}
        room = out["actions"].get("augment slider", {}).get("p95")
        out["slider_p95_ratio"] = room / out["solo_slider_p95"] if room else None
    finally:
        lab.close()
    if args.saturate:
        rates = {}
        for k in (1, args.saturate):
            lab = Lab(Path(tempfile.mkdtemp(prefix="bench-sat-")), k)
            try:
                await _solo(lab, 2)
                rates[k] = await _saturate(lab)
            finally:
                lab.close()
        out["saturation_reruns_per_s"] = rates
        out["saturation_ratio"] = rates[args.saturate] / rates[1]
    return out


def _markdown(r: dict) -> str:
    lines = [f"{r['students']} simulated students (think time exponential, mean {r['think_mean_s']} s), "
             f"{r['processes']} server process(es), {r['cpus']} cores, {r['wall_s']:.0f} s.", "",
             "| action | n | p50 | p95 |", "|---|---|---|---|"]
    lines += [f"| {name} | {row['n']} | {row['p50']:.2f} s | {row['p95']:.2f} s |" for name, row in r["actions"].items()]
    ratio = r.get("slider_p95_ratio")
    lines += ["", f"- Augment slider p95: solo {r['solo_slider_p95']:.2f} s, room "
                  f"{'%.2fx' % ratio if ratio else 'not measured'} of solo (target ≤ 3x)",
              f"- Server CPU per action: {r['server_cpu_per_action_s']:.3f} s; server peak RSS {r['peak_rss_mb']:.0f} MB"
              " (target < 2,048 MB)",
              f"- Errors: {len(r['errors'])}; pages that never finished: {len(r['never_finished'])}; students who "
              f"reached the last page: {r['students_done']} of {r['students']}",
              f"- Jobs at the end: {r['jobs']['by_status']} ({r['jobs']['total']} in all)",
              f"- Real browsers alongside: {len(r['browser_problems'])} problems"]
    if "saturation_ratio" in r:
        lines.append(f"- Saturation (8 students, no think time, 30 s): {r['saturation_reruns_per_s']} reruns/s; "
                     f"ratio {r['saturation_ratio']:.2f}x (target ≥ 1.6x)")
    lines += [f"  - {e}" for e in r["errors"][:20] + r["never_finished"][:20] + r["browser_problems"][:10]]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--think", type=float, default=10.0, help="mean think time in seconds (exponential)")
    parser.add_argument("--processes", type=int, default=1, help="server processes (python -m core serve)")
    parser.add_argument("--saturate", type=int, default=0, help="also measure throughput on 1 and on K processes")
    parser.add_argument("--browsers", type=int, default=1, help="1: two real Chromium sessions alongside; 0: none")
    parser.add_argument("--limit", type=float, default=1200.0, help="the room phase stops after this many seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=str(ROOT / "bench/results/bench_serve.json"))
    args = parser.parse_args()
    if not 1 <= args.students <= MAX_STUDENTS:
        parser.error(f"--students must be between 1 and {MAX_STUDENTS}")
    from core.data import BUILTINS, ensure_builtin

    for name in BUILTINS:  # generated once before timing anything
        ensure_builtin(name)
    result = asyncio.run(_room(args))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2))
    Path(args.json).with_suffix(".md").write_text(_markdown(result) + "\n")
    print(_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
