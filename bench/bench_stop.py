"""How long a Stop takes: from ``request_stop()`` on a running worker to the run's status 'stopped'.

    .venv/bin/python bench/bench_stop.py [--repeats 3]

Launches a long run (digits, mlp, tiny batches) in a worker process, waits until it is training, requests a stop
and times until the store says 'stopped'. The worker checks the flag every batch, so the latency is one batch plus
the final checkpoint and the store's last write. Target: median under 5 s on a busy 2-core machine (the test suite
only checks that a stop stops; the wall-clock figure lives here).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core.train import TrainConfig  # noqa: E402
from core.train.store import ACTIVE, RunStore  # noqa: E402
from core.train.worker import launch  # noqa: E402

TARGET_S = 5.0


def _wait(store: RunStore, until, timeout: float = 180.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = store.info()
        if until(info):
            return info
        time.sleep(0.05)
    raise TimeoutError(f"run {store.run_dir} did not get there: {store.info()}")


def stop_latency(runs_dir: Path) -> float:
    """Seconds from the stop request to status 'stopped' for one run."""
    cfg = TrainConfig(data="builtin:digits", model="mlp", epochs=50, batch_size=4, runs_dir=str(runs_dir))
    store = RunStore.open(launch(cfg))
    _wait(store, lambda i: i.status == "running" and i.last_step >= 5)
    start = time.monotonic()
    store.request_stop()
    info = _wait(store, lambda i: i.status not in ACTIVE)
    if info.status != "stopped":
        raise RuntimeError(f"the run ended {info.status}, not stopped: {info.error}")
    return time.monotonic() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        times = [stop_latency(Path(tmp) / "runs") for _ in range(args.repeats)]
    median = statistics.median(times)
    verdict = "met" if median < TARGET_S else "MISSED"
    print(f"stop latency: median {median:.2f} s over {len(times)} runs ({', '.join(f'{t:.2f}' for t in times)}); "
          f"target < {TARGET_S:g} s: {verdict}")
    return 0 if median < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
