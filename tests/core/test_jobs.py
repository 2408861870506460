"""The job mechanism (core.jobs): the queue, stop while queued, the time limit, failures, progress and results,
owners, and the LR sweep as a job. Worker processes are real; their job functions are tiny."""
from __future__ import annotations

import os
import textwrap
import time

import pytest

from core.jobs import JobStopped, kinds, launch, log_tail, queue_position, read_result, run_inline
from core.train import TrainConfig
from core.train.lr_finder import SweepSettings
from core.train.lr_job import lr_job_config, read_report
from core.train.store import ACTIVE, RunStore, list_runs

TIMEOUT = 120  # seconds: a worker imports torch before it runs (slow on a busy 2-core machine)

# Job functions for the tests: a module on the worker's PYTHONPATH (tmp_path), registered as kinds in this process.
JOBS = textwrap.dedent('''
    import time
    from pathlib import Path

    def gate(job):
        """Run until the file named in the config appears (the test decides when the job ends)."""
        job.store.note(f"started {time.time()!r}")
        while not Path(job.config["release"]).exists():
            job.progress(0, 1, "waiting for the gate")
            time.sleep(0.05)
        job.write_result({"ended": time.time()})

    def spin(job):
        """Report progress until stopped."""
        for i in range(10 ** 9):
            job.progress(i, 10 ** 9, f"spin {i}")
            time.sleep(0.01)

    def count(job):
        import os
        for i in range(5):
            job.progress(i + 1, 5, f"counted {i + 1}")
        job.write_result({"counted": 5, "config": job.config, "nice": os.nice(0)})

    def boom(job):
        job.progress(1, 2, "half way")
        raise RuntimeError("the job broke on purpose")
''')


@pytest.fixture
def lab(tmp_path, monkeypatch):
    """A lab.toml with one job at a time, the test job module importable by workers, and its kinds registered."""
    (tmp_path / "lab.toml").write_text("[limits]\nmax_concurrent_runs = 1\n")
    monkeypatch.setenv("DLLAB_CONFIG", str(tmp_path / "lab.toml"))
    (tmp_path / "dllab_test_jobs.py").write_text(JOBS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("DLLAB_WORKER_THREADS", "1")
    for name in ("gate", "spin", "count", "boom"):
        monkeypatch.setitem(kinds.KINDS, name, kinds.JobKind(name, f"dllab_test_jobs:{name}"))
    return tmp_path


def _wait(run_dir, until, timeout: float = TIMEOUT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        info = RunStore.open(run_dir).info()
        if until(info):
            return info
        time.sleep(0.2)
    raise AssertionError(f"timed out; last state {RunStore.open(run_dir).info()}; log:\n{log_tail(run_dir)}")


@pytest.mark.slow
def test_with_one_slot_a_second_job_waits_in_the_queue_then_runs(lab):
    runs, gate = lab / "runs", lab / "open"
    first = launch("gate", {"data": "none", "release": str(gate)}, runs_dir=runs, owner="ann")
    _wait(first, lambda i: i.status == "running")
    second = launch("count", {"data": "none"}, runs_dir=runs, owner="bob")
    time.sleep(2.0)  # long enough for the second worker to start and look for a slot
    assert RunStore.open(second).info().status == "queued"
    assert queue_position(second) == 1 and queue_position(first) is None
    gate.touch()
    done = _wait(second, lambda i: i.status not in ACTIVE)
    assert done.status == "finished" and read_result(second)["counted"] == 5
    assert read_result(second)["nice"] == min(19, os.nice(0) + 10)  # a worker yields the CPU to the pages
    assert RunStore.open(first).info().status == "finished"
    assert done.started >= read_result(first)["ended"]  # it ran only once the first had finished
    assert {r.owner for r in list_runs(runs)} == {"ann", "bob"}


@pytest.mark.slow
def test_a_job_stopped_while_queued_never_starts(lab):
    runs, gate = lab / "runs", lab / "open"
    first = launch("gate", {"data": "none", "release": str(gate)}, runs_dir=runs)
    _wait(first, lambda i: i.status == "running")
    second = launch("count", {"data": "none"}, runs_dir=runs)
    RunStore.open(second).request_stop()
    info = _wait(second, lambda i: i.status not in ACTIVE)
    gate.touch()
    assert info.status == "stopped" and info.started is None and read_result(second) is None
    assert "never started" in " ".join(RunStore.open(second).notes().message)
    _wait(first, lambda i: i.status == "finished")


def test_the_time_limit_stops_a_job_and_says_why(lab):
    (lab / "lab.toml").write_text("[limits]\nmax_job_minutes = 0.02\n")  # 1.2 s
    run_dir = run_inline("spin", {"data": "none"}, runs_dir=lab / "runs")
    info = RunStore.open(run_dir).info()
    notes = " ".join(RunStore.open(run_dir).notes().message)
    assert info.status == "stopped" and "time limit of 0.02 minutes" in notes
    assert info.progress_done and info.progress_done > 0  # it had run until then


def test_progress_result_and_owner_are_recorded(lab):
    run_dir = run_inline("count", {"data": "builtin:digits", "model": "none"}, runs_dir=lab / "runs", owner="ann")
    info = RunStore.open(run_dir).info()
    assert (info.status, info.kind, info.owner) == ("finished", "count", "ann")
    assert (info.progress_done, info.progress_total, info.progress_text) == (5, 5, "counted 5")
    assert read_result(run_dir) == {"counted": 5, "config": {"data": "builtin:digits", "model": "none"},
                                    "nice": os.nice(0)}  # the command line's own process keeps its priority
    assert run_dir.name.split("-")[2] == "count"  # the kind is in the name of a run that is not training


def test_a_failing_job_is_failed_with_its_message_and_keeps_its_progress(lab):
    with pytest.raises(RuntimeError, match="on purpose"):
        run_inline("boom", {"data": "none"}, runs_dir=lab / "runs")
    [info] = list_runs(lab / "runs")
    assert info.status == "failed" and "the job broke on purpose" in info.error
    assert (info.progress_done, info.progress_text) == (1, "half way")


def test_job_stopped_is_what_progress_raises_on_a_stop_request(lab):
    store = RunStore.create(lab / "runs", {"data": "none"}, kind="spin")
    from core.jobs import Job

    job = Job(store, {}, "spin")
    job.progress(1, 3)
    store.request_stop()
    with pytest.raises(JobStopped):
        for _ in range(100):  # the flag is read at most every 0.2 s
            job.progress(2, 3)
            time.sleep(0.01)


def test_launch_refuses_impossible_configs_and_a_full_queue(lab, monkeypatch):
    runs = lab / "runs"
    bad = {**lr_job_config(TrainConfig(lr=-1), SweepSettings(start_lr=1.0, end_lr=0.1)), "seeds": list(range(11))}
    with pytest.raises(ValueError) as err:
        launch("lr_find", bad, runs_dir=runs)
    for reason in ("learning rate must be positive", "start LR must be positive and below", "number of seeds"):
        assert reason in str(err.value)
    assert not runs.exists()
    with pytest.raises(ValueError, match="unknown job kind 'nope'"):
        launch("nope", {}, runs_dir=runs)
    (lab / "lab.toml").write_text("[limits]\nmax_queued_jobs = 1\n")
    waiting = RunStore.create(runs, {"data": "none"}, kind="count")
    waiting.set_pid(os.getpid())  # a live process: it reads as queued, not interrupted
    with pytest.raises(ValueError, match="already waiting in the queue"):
        launch("count", {"data": "none"}, runs_dir=runs)
    assert len(list_runs(runs)) == 1


def test_lr_sweep_runs_as_a_job_and_its_report_round_trips(lab):
    config = TrainConfig(data="builtin:digits", model="mlp", batch_size=32)
    run_dir = run_inline("lr_find", lr_job_config(config, SweepSettings(num_iter=12, end_lr=1e-3), seeds=[0, 1]),
                         runs_dir=lab / "runs")
    info = RunStore.open(run_dir).info()
    assert (info.status, info.kind, info.model, info.data) == ("finished", "lr_find", "mlp", "builtin:digits")
    report = read_report(run_dir)
    assert report.seeds == [0, 1] and [len(r.lrs) for r in report.results] == [12, 12]
    assert report.results[0].lrs[0] == pytest.approx(1e-7)
    steps = RunStore.open(run_dir).steps()
    assert list(steps["epoch"].unique()) == [0, 1]  # the live curve: one series per seed
    assert steps["loss"].iloc[-1] == pytest.approx(report.results[1].smoothed[-1])
    assert list_runs(lab / "runs", kind="lr_find")[0].name == run_dir.name
    assert list_runs(lab / "runs", kind="train") == []
