"""GAN training as a job (kind "gan") in a real worker process: it finishes with its result, stops on request
keeping a checkpoint, and a killed worker leaves an 'interrupted' run with every series it had flushed; impossible
configs are refused before a run exists; the command line trains in-process."""
from __future__ import annotations

import io
import json
import os
import signal
import time
from contextlib import redirect_stdout

import pytest
from PIL import Image

from core.gan import GanConfig, GanResult
from core.gan.snapshots import list_snapshots
from core.jobs import launch, log_tail, read_result
from core.train.store import ACTIVE, RunStore, list_runs

pytestmark = pytest.mark.slow
TIMEOUT = 180  # seconds: the worker imports torch first (slow on a busy 2-core machine)
RING = dict(data="toy:ring", model="mlp", model_opts={"hidden": [16]}, batch_size=32, samples=128, log_every=5,
            snapshot_every=20, checkpoint_every=40)


def _wait(store: RunStore, until, timeout: float = TIMEOUT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        info = store.info()
        if until(info):
            return info
        time.sleep(0.2)
    raise AssertionError(f"timed out; last state {store.info()}; log:\n{log_tail(store.run_dir)}")


@pytest.fixture
def workers(monkeypatch):
    monkeypatch.setenv("DLLAB_WORKER_THREADS", "1")
    started = []
    yield started
    for run_dir in started:  # never leave a worker behind
        info = RunStore.open(run_dir).info()
        if info.status in ACTIVE and info.pid:
            os.kill(info.pid, signal.SIGKILL)


def test_gan_job_finishes_stops_and_is_interrupted_when_killed(tmp_path, workers):
    runs = tmp_path / "runs"
    short = launch("gan", GanConfig(**RING, epochs=3, runs_dir=str(runs)).to_dict(), owner="ann")
    long = [launch("gan", GanConfig(**{**RING, "samples": 8192}, epochs=100, runs_dir=str(runs)).to_dict())
            for _ in range(2)]  # 25600 steps: stopped and killed long before the end
    workers += [short, *long]
    # a short run: finished, its GanResult as the job's result, listed as a GAN run of its owner
    info = _wait(RunStore.open(short), lambda i: i.status not in ACTIVE)
    assert info.status == "finished", log_tail(short)
    result = GanResult.from_dict(read_result(short))
    assert result.steps == 12 and result.collapse["modes_total"] == 8
    [listed] = [r for r in list_runs(runs, kind="gan") if r.run_dir == short]
    assert listed.kind == "gan" and listed.owner == "ann" and listed.model == "mlp"
    # stop on request: 'stopped', with a checkpoint and the final snapshot
    stopped = RunStore.open(long[0])
    _wait(stopped, lambda i: i.status == "running" and i.last_step >= 20)
    stopped.request_stop()
    info = _wait(stopped, lambda i: i.status not in ACTIVE, timeout=60)
    assert info.status == "stopped" and (stopped.checkpoint_dir / "last.pt").is_file()
    # SIGKILL: 'interrupted', every flushed step still there, in order
    killed = RunStore.open(long[1])
    info = _wait(killed, lambda i: i.status == "running" and i.last_step >= 60)
    os.kill(info.pid, signal.SIGKILL)
    info = _wait(killed, lambda i: i.status != "running", timeout=15)
    assert info.status == "interrupted"
    series = killed.scalars().dropna(subset=["g_loss"])
    assert len(series) >= 60 and list(series.step) == list(range(1, len(series) + 1))
    assert [s.step for s in list_snapshots(long[1])][:4] == [0, 20, 40, 60]


def test_the_result_is_written_before_the_run_says_finished(tmp_path):
    """A reader that sees 'finished' must find result.json (the full suite once read it a moment too early)."""
    from core.gan.jobs import run_gan
    from core.jobs import Job

    store = RunStore.create(tmp_path / "runs", GanConfig(**RING, max_steps=10).to_dict(), kind="gan")
    job = Job(store, store.config(), "gan")
    seen = []
    real_write = job.write_result
    job.write_result = lambda result: seen.append(store.info().status) or real_write(result)
    run_gan(job)
    assert seen == ["running"]  # written while the run was still running
    assert store.info().status == "finished" and GanResult.from_dict(read_result(store.run_dir)).steps == 10


def test_impossible_gan_config_is_refused_before_a_run_exists(tmp_path):
    runs = tmp_path / "runs"
    with pytest.raises(ValueError, match="dcgan-8 makes 8x8 images"):
        launch("gan", GanConfig(data="builtin:shapes", model="dcgan-8", runs_dir=str(runs)).to_dict())
    with pytest.raises(ValueError, match="does not exist"):
        launch("gan", GanConfig(data=str(tmp_path / "nowhere"), model="dcgan", runs_dir=str(runs)).to_dict())
    with pytest.raises(ValueError, match="unknown GanConfig field"):
        launch("gan", {"data": "toy:ring", "colour": "red"})
    assert not runs.exists()


def _cli(*argv) -> tuple[int, str]:
    from core.__main__ import main

    out = io.StringIO()
    with redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


def test_cli_train_sample_interpolate(tmp_path):
    runs = str(tmp_path / "runs")
    code, out = _cli("gan", "train", "--data", "toy:ring", "--max-steps", "30", "--runs-dir", runs, "--json")
    summary = json.loads(out)
    assert code == 0 and summary["status"] == "finished" and summary["steps"] == 30
    assert summary["num_modes"] == 8 and 0 <= summary["modes_covered"] <= 8 and summary["epochs"]
    assert RunStore.open(summary["run_dir"]).info().kind == "gan"
    assert GanResult.from_dict(read_result(summary["run_dir"])).steps == 30
    code, out = _cli("gan", "sample", summary["run_dir"], "--seeds", "1,2,3", "--out", str(tmp_path / "s"))
    assert code == 0 and len(json.loads((tmp_path / "s" / "samples.json").read_text())) == 3
    code, out = _cli("gan", "interpolate", summary["run_dir"], "--a", "1", "--b", "2", "--gif", str(tmp_path / "x.gif"))
    assert code == 2 and "need an image GAN" in out
    # an image GAN: PNGs per seed, and the walk as a GIF of --steps frames
    code, out = _cli("gan", "train", "--data", "builtin:digits", "--model", "dcgan", "--max-steps", "3",
                     "--runs-dir", runs, "--json")
    run_dir = json.loads(out)["run_dir"]
    assert code == 0
    code, _ = _cli("gan", "sample", run_dir, "--seeds", "4,5", "--out", str(tmp_path / "img"))
    assert code == 0 and Image.open(tmp_path / "img" / "seed_4.png").size[0] >= 8
    code, _ = _cli("gan", "interpolate", run_dir, "--a", "1", "--b", "2", "--steps", "5", "--method", "lerp",
                   "--gif", str(tmp_path / "walk.gif"), "--png", str(tmp_path / "walk.png"))
    assert code == 0 and Image.open(tmp_path / "walk.gif").n_frames == 5 and (tmp_path / "walk.png").is_file()
    code, out = _cli("gan", "train", "--data", "builtin:shapes", "--model", "dcgan-8", "--runs-dir", runs)
    assert code == 2 and "refused: dcgan-8 makes 8x8 images" in out
