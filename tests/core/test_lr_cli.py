"""``python -m core lr-find``: text and JSON output, seeds, refusals with a reason and exit code 2."""
from __future__ import annotations

import json
import math

from core.__main__ import main

TINY = ["--data", "builtin:digits", "--model", "mlp", "--num-iter", "12", "--start-lr", "1e-4", "--end-lr", "1"]


def test_json_has_lrs_losses_suggestions_and_stop_reason(capsys):
    assert main(["lr-find", *TINY, "--beta", "0.9", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["settings"]["beta"] == 0.9
    assert out["lrs"][0] == 1e-4 and len(out["lrs"]) == len(out["losses"]) == len(out["smoothed"]) <= 12
    assert out["stopped_because"] in ("completed", "diverged", "non-finite loss")
    assert set(out["suggestions"]) <= {"steepest", "valley", "minimum/10"}
    assert all(math.isfinite(v) for v in out["losses"])
    assert out["settings"]["num_iter"] == 12 and out["model"] == "mlp"
    assert "repeats" not in out


def test_text_output_and_seeds(capsys):
    assert main(["lr-find", *TINY, "--seeds", "2", "--step-mode", "linear"]) == 0
    text = capsys.readouterr().out
    assert "step" in text and "smoothed" in text and "stopped:" in text
    assert "over 2 seeds" in text or "suggestions: none" in text


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
