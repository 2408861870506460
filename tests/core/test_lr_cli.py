"""``python -m core lr-find``: text and JSON output, seeds, refusals with a reason and exit code 2."""
from __future__ import annotations

import json
import math

import pytest

from core.__main__ import main

TINY = ["--data", "builtin:digits", "--model", "mlp", "--num-iter", "12", "--start-lr", "1e-4", "--end-lr", "1"]


def test_json_has_lrs_losses_suggestions_and_stop_reason(capsys):
    assert main(["lr-find", *TINY, "--beta", "0.9", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["settings"]["beta"] == 0.9
    assert out["lrs"][0] == 1e-4 and len(out["lrs"]) == len(out["losses"]) == len(out["smoothed"]) <= 12
    smoothed = out["smoothed"]
    if out["stopped_because"] == "diverged":  # the stop reason agrees with the curve it printed
        assert smoothed[-1] > out["settings"]["diverge"] * min(smoothed) and out["stop_lr"] == out["lrs"][-1]
    else:
        assert out["stopped_because"] == "completed" and len(out["lrs"]) == 12 and out["stop_lr"] is None
    lowest = out["lrs"][smoothed.index(min(smoothed))]
    assert out["suggestions"]["minimum/10"] == pytest.approx(lowest / 10)
    assert all(v in out["lrs"] for k, v in out["suggestions"].items() if k != "minimum/10")
    assert all(math.isfinite(v) for v in out["losses"])
    assert out["settings"]["num_iter"] == 12 and out["model"] == "mlp"
    assert "repeats" not in out


def test_text_output_and_seeds(capsys):
    assert main(["lr-find", *TINY, "--seeds", "2", "--step-mode", "linear", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)  # the same sweeps, as JSON, to check the text against
    assert main(["lr-find", *TINY, "--seeds", "2", "--step-mode", "linear"]) == 0
    text = capsys.readouterr().out
    assert f"stopped: {first['stopped_because']}" in text and f"after {len(first['lrs'])} recorded steps" in text
    rows = [line.split() for line in text.splitlines() if line.strip()[:1].isdigit()]
    assert [float(r[1]) for r in rows] == pytest.approx(first["lrs"], rel=1e-3)  # one row per step: lr, loss
    assert first["suggestions"]  # this sweep finds some: each is printed with its spread over the two seeds
    for name in first["suggestions"]:
        assert any(line.strip().startswith(name) and "over 2 seeds" in line for line in text.splitlines())


def test_json_with_seeds_has_every_sweep_and_the_spread(capsys):
    assert main(["lr-find", *TINY, "--seeds", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["seeds"] == [0, 1] and len(out["repeats"]) == 2
    assert len(out["spread"]["grid"]) == len(out["spread"]["low"]) == len(out["spread"]["high"])


def test_refusals_say_why(capsys):
    assert main(["lr-find", "--data", "builtin:digits", "--model", "lstm", "--json"]) == 2
    assert "text data" in json.loads(capsys.readouterr().out)["error"]
    assert main(["lr-find", "--data", "/no/such/folder", "--model", "mlp"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["lr-find", *TINY[:4], "--num-iter", "100000"]) == 2
    assert "server's limit" in capsys.readouterr().err
