"""``python -m core inspect``: table, JSON, skipped files, exit code 2 with a clear message on a bad source."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

from core.__main__ import main

ROOT = Path(__file__).resolve().parents[2]


def _folder(root):
    for c in ("cat", "dog"):
        (root / c).mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (10 + i, 8), (i * 50, 0, 0)).save(root / c / f"{i}.png")
    (root / "cat" / "broken.jpg").write_text("not a jpeg")
    return root


def test_table_lists_counts_and_skipped_files(tmp_path, capsys):
    assert main(["inspect", str(_folder(tmp_path / "d"))]) == 0
    out = capsys.readouterr().out
    assert "image, 2 classes, 8 samples" in out
    total = next(line for line in out.splitlines() if line.startswith("total"))
    assert total.split()[-1] == "8"
    assert "skipped: 1" in out and "broken.jpg: not an image" in out


def test_json_output_is_the_summary(tmp_path, capsys):
    assert main(["inspect", str(_folder(tmp_path / "d")), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["kind"] == "image" and s["total"] == 8 and len(s["skipped"]) == 1
    assert s["images"]["cat"]["width"]["max"] == 13


def test_kind_flag_and_text_and_audio_sources(tmp_path, capsys):
    f = tmp_path / "r.tsv"
    f.write_text("nice\tpos\nugly\tneg\n" * 4 + "orphan line\n")
    assert main(["inspect", str(f), "--kind", "text"]) == 0
    out = capsys.readouterr().out
    assert "vocabulary:" in out and f"{f}:9: no <TAB>label" in out


def test_bad_sources_exit_2_with_a_message(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["inspect", str(tmp_path / "empty")]) == 2
    assert "no image, audio or text files" in capsys.readouterr().err
    (tmp_path / "one" / "solo").mkdir(parents=True)
    Image.new("L", (4, 4)).save(tmp_path / "one" / "solo" / "a.png")
    assert main(["inspect", str(tmp_path / "one")]) == 2
    assert "only one class" in capsys.readouterr().err


def test_real_command_line_for_a_builtin():
    done = subprocess.run([sys.executable, "-m", "core", "inspect", "builtin:reviews", "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["kind"] == "text"
