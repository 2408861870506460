"""Issue 17, a classroom that holds (and issue 19 items 3 and 6): the one job watcher, pages bound to their own job,
owner-only control, the per-student quota, launch failures, the teacher token leaving the URL.

AppTest has no browser timer, so a fragment's tick is played by ``ticking_fragment``: a poller's body runs once more,
inside the same script run, once the job has really ended (a real worker process does the job).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.jobs import write_json
from core.train.store import ACTIVE, RunStore, list_runs
from tests.pages.test_lr_page import fake_report

ROOT = Path(__file__).resolve().parents[2]
LR = str(ROOT / "pages/3_LR_Finder.py")
TRAIN = str(ROOT / "pages/4_Train.py")


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A served lab with a teacher token and the default per-student quota (2); returns the runs root."""
    (tmp_path / "lab.toml").write_text('served = true\nteacher_token = "t0ken"\n[limits]\nmax_jobs_per_user = 2\n')
    monkeypatch.setenv("DLLAB_CONFIG", str(tmp_path / "lab.toml"))
    monkeypatch.setenv("DLLAB_DATA_ROOT", str(tmp_path))
    return Path(os.environ["DLLAB_RUNS"])


def _session(page: str, user: str, **query) -> AppTest:
    at = AppTest.from_file(page, default_timeout=180)
    at.session_state["_dllab_user"] = user  # what ui.session.current_user keeps for a browser
    for name, value in query.items():
        at.query_params[name] = value
    at.run()
    _ok(at)
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _jobs_ended(kind: str) -> bool:
    jobs = list_runs(kind=kind)
    return bool(jobs) and all(j.status not in ACTIVE for j in jobs)


def ticking_fragment(monkeypatch, until, seconds: float = 150.0) -> None:
    """Replace st.fragment: a fragment registered with ``run_every`` (a poller) runs its body, then, once
    ``until()`` is true, runs it once more in the same script run: the browser timer's next tick."""
    real = st.fragment

    def fragment(func=None, *, run_every=None):
        def wrap(f):
            def body(*args, **kwargs):
                f(*args, **kwargs)
                if run_every:
                    deadline = time.time() + seconds
                    while not until() and time.time() < deadline:
                        time.sleep(0.2)
                    f(*args, **kwargs)  # the tick
            return real(body)

        return wrap(func) if func is not None else wrap

    monkeypatch.setattr(st, "fragment", fragment)


def lose_reruns(monkeypatch) -> None:
    """Every st.rerun is lost: the script ends where it asked for it, and no new run follows (what a browser whose
    rerun request never arrives sees)."""
    monkeypatch.setattr(st, "rerun", lambda *a, **k: st.stop())


def _lr_result_drawn(at: AppTest) -> bool:
    """The finished sweep's result: its chart, and suggestions to use (or, for a 4-step sweep, why there are none)."""
    return any("LR range test" in c.proto.spec for c in at.get("plotly_chart")) \
        and (any(b.key == "lr-use" for b in at.button) or any("No clear drop" in w.value for w in at.warning))


def _start_tiny_sweep(at: AppTest) -> AppTest:
    at.number_input(key="lr-iters").set_value(4).run()
    at.button(key="lr-run").click().run()
    _ok(at)
    return at


@pytest.mark.slow
def test_the_watcher_hands_a_real_workers_result_to_the_page(monkeypatch):
    """The real poll-to-result hand-off: a worker process runs the sweep; the watcher's tick that sees it finished
    draws the result (chart, suggestions, 'Use for training')."""
    ticking_fragment(monkeypatch, lambda: _jobs_ended("lr_find"))
    at = _start_tiny_sweep(_session(LR, "ann"))
    [job] = list_runs(kind="lr_find")
    assert job.status == "finished" and job.owner == "ann" and at.query_params["job"] == job.name
    assert _lr_result_drawn(at)


@pytest.mark.slow
def test_a_lost_full_rerun_leaves_the_outcome_on_the_page(monkeypatch):
    """Issue 17's frozen LR page: the tick that sees the job finished asks for a full rerun, which is lost. The
    outcome must already be on the page (before: the poller reran first and drew nothing)."""
    ticking_fragment(monkeypatch, lambda: _jobs_ended("lr_find"))
    lose_reruns(monkeypatch)
    at = _start_tiny_sweep(_session(LR, "ann"))
    assert list_runs(kind="lr_find")[0].status == "finished"
    assert _lr_result_drawn(at)


@pytest.fixture
def stub_sweeps(monkeypatch):
    """Each launch writes a finished lr_find job at once, its report carrying the owner's name as a notice."""
    def launch(kind, config, *, owner=None, runs_dir=None):
        from core.settings import load_settings

        store = RunStore.create(runs_dir or load_settings().runs_dir, config, kind=kind, owner=owner)
        report = fake_report()
        report.notices = [f"sweep of {owner}"]
        write_json(store.run_dir / "result.json", report.to_dict())
        store.set_status("finished")
        store.close()
        return store.run_dir

    monkeypatch.setattr("core.jobs.launch", launch)


def test_two_sessions_on_one_builtin_set_each_see_only_their_own_sweep(served, stub_sweeps):
    """Same default settings, same built-in set, a neighbour's sweep started later: each page shows its own."""
    ann = _session(LR, "ann")
    ann.button(key="lr-run").click().run()
    bob = _session(LR, "bob")
    bob.button(key="lr-run").click().run()
    ann.run()
    _ok(ann), _ok(bob)
    assert len(list_runs(kind="lr_find")) == 2
    assert [c.value for c in ann.caption if "sweep of" in c.value] == ["ℹ️ sweep of ann"]
    assert [c.value for c in bob.caption if "sweep of" in c.value] == ["ℹ️ sweep of bob"]
    carol = _session(LR, "carol")  # no sweep of her own: nobody's result, whatever the settings
    assert not carol.get("plotly_chart") and not [c for c in carol.caption if "sweep of" in c.value]


def test_a_reload_finds_the_sessions_sweep_from_the_url(served, stub_sweeps):
    ann = _session(LR, "ann")
    ann.button(key="lr-run").click().run()
    name = ann.query_params["job"]
    reload = _session(LR, "ann", job=name)  # a new session with the old address bar
    assert reload.session_state["job"] == name and _lr_result_drawn(reload)


def _running(runs: Path, owner: str, kind: str = "train") -> RunStore:
    """An active job owned by ``owner`` whose worker is this (live) test process."""
    store = RunStore.create(runs, {"data": "builtin:digits", "model": "mlp", "epochs": 1, "model_opts": {},
                                   "data_opts": {}}, kind=kind, owner=owner)
    store.set_pid(os.getpid())
    store.set_status("running")
    return store


def test_a_non_owner_cannot_stop_a_job_but_its_owner_and_the_teacher_can(served):
    job = _running(served, "ann")
    bob = _session(TRAIN, "bob")  # sees ann's run on shared data: read-only
    assert not [b for b in bob.button if b.key == "live-stop"]
    assert any("only they (or the teacher) can stop it" in c.value for c in bob.caption)
    assert any("Started by student" in c.value or "Started by ann" in c.value for c in bob.caption)
    assert not RunStore.open(job.run_dir).info().stop_requested
    for at in (_session(TRAIN, "ann"), _session(TRAIN, "carol", teacher="t0ken")):
        assert [b for b in at.button if b.key == "live-stop"]
    teacher = _session(TRAIN, "carol", teacher="t0ken")
    teacher.button(key="live-stop").click().run()
    assert RunStore.open(job.run_dir).info().stop_requested
    job.close()


def test_the_cli_stops_only_for_the_owner(served, capsys):
    from core.__main__ import main

    job = _running(served, "ann")
    assert main(["runs", "--stop", job.run_dir.name, "--user", "bob"]) == 1
    assert "only its owner may stop it" in capsys.readouterr().err
    assert not RunStore.open(job.run_dir).info().stop_requested
    assert main(["runs", "--stop", job.run_dir.name, "--user", "ann"]) == 0
    assert RunStore.open(job.run_dir).info().stop_requested
    job.close()


def test_the_quota_refuses_a_third_job_with_the_reason(served):
    jobs = [_running(served, "ann"), _running(served, "ann", kind="gan")]
    ann = _session(LR, "ann")
    ann.button(key="lr-run").click().run()
    _ok(ann)
    assert any("you already have 2 jobs running or waiting" in e.value and "max_jobs_per_user" in e.value
               for e in ann.error)
    assert list_runs(kind="lr_find") == []  # nothing was created
    for job in jobs:
        job.close()


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"),
                                   __import__("sqlite3").OperationalError("database is locked")])
def test_a_launch_that_fails_shows_one_message(monkeypatch, error):
    def launch(*args, **kwargs):
        raise error

    monkeypatch.setattr("core.jobs.launch", launch)
    at = _session(LR, "ann")
    at.button(key="lr-run").click().run()
    _ok(at)
    assert any(("No space left on device" in e.value or "database is locked" in e.value)
               and e.value.startswith("Cannot run") for e in at.error)


def test_the_teacher_token_leaves_the_url_on_the_first_visit(served):
    _running(served, "ann").close()
    at = _session(TRAIN, "carol", teacher="t0ken")
    assert "teacher" not in at.query_params and at.session_state["_dllab_teacher"] is True
    assert not at.error
    wrong = _session(TRAIN, "dave", teacher="guess")
    assert "teacher" not in wrong.query_params and wrong.session_state["_dllab_teacher"] is False
    assert any("teacher link is not valid" in e.value for e in wrong.error)


def test_the_teacher_sees_an_owner_column(served):
    _running(served, "ann").close()
    at = _session(TRAIN, "carol", teacher="t0ken")
    table = [d.value for d in at.dataframe if "status" in d.value.columns][0]
    assert list(table["owner"]) == ["ann"]


def test_a_job_that_could_not_write_its_store_says_why():
    """Before: every worker that died read 'killed, out of memory, or the machine restarted'."""
    import subprocess

    runs = Path(os.environ["DLLAB_RUNS"])
    store = _running(runs, None)
    gone = subprocess.Popen(["true"])
    gone.wait()
    store.set_pid(gone.pid)  # its worker is gone...
    store.close()
    (store.run_dir / "worker.log").write_text("OSError: [Errno 28] No space left on device\n")  # ...and said why
    at = _session(TRAIN, "ann")
    assert any("the disk is full" in w.value for w in at.warning)
    assert not any("killed, out of memory" in w.value for w in at.warning)


def test_a_job_next_in_line_with_a_free_worker_says_starting_not_queued():
    """Issue 19 item 6: 'number 1 in the queue' for a job that is only starting up."""
    runs = Path(os.environ["DLLAB_RUNS"])
    store = RunStore.create(runs, {"data": "builtin:digits", "model": "mlp", "epochs": 1, "model_opts": {},
                                   "data_opts": {}}, kind="train")
    store.set_pid(os.getpid())  # a live worker, still queued (loading)
    at = _session(TRAIN, "ann")
    assert any("Starting: the worker is loading" in i.value for i in at.info), [i.value for i in at.info]
    assert not any("in the queue" in i.value for i in at.info)
    store.close()
