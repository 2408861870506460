"""AppTest of the home page: pages listed, device shown, built-in data status, recent runs once runs exist."""
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.train.store import RunStore

ROOT = Path(__file__).resolve().parents[2]


def _home() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()


def test_home_lists_device_builtins_and_says_no_runs_yet():
    at = _home()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "Computing on **cpu" in text or "Computing on **cuda" in text or "Computing on **mps" in text
    for name in ("digits", "shapes", "sounds", "reviews"):
        assert f"builtin:{name}" in text
    assert any("No runs yet" in i.value for i in at.info)
    assert any(i.value.startswith("**Start here:**") for i in at.info)  # a newcomer is told where to begin


def test_home_shows_recent_runs(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    monkeypatch.setenv("DLLAB_RUNS", str(runs))
    store = RunStore.create(runs, {"data": "builtin:digits", "model": "cnn", "epochs": 1})
    store.log_epoch(0, {"train_loss": 1.0, "val_loss": 0.9, "val_acc": 0.75})
    store.set_status("finished")
    at = _home()
    assert not at.exception
    assert not any("No runs yet" in i.value for i in at.info)  # the "no runs" message is gone
    table = at.dataframe[0].value
    assert len(table) == 1
    assert "finished" in table.to_string() and "cnn" in table.to_string()
