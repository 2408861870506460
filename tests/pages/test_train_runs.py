"""Train page, the runs a session sees and may delete (issue 8 ownership; issue 13 item 10 delete)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.train.store import RunStore, list_runs

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages/4_Train.py")


def _finished(runs_dir: Path, data: str = "builtin:digits", owner: str | None = None) -> Path:
    store = RunStore.create(runs_dir, {"data": data, "model": "mlp", "epochs": 1, "model_opts": {}, "data_opts": {}},
                            owner=owner)
    store.set_status("running")
    store.log_step(0, 0, loss=2.0, lr=1e-3)
    store.log_epoch(0, {"train_loss": 2.0, "val_loss": 1.9, "val_acc": 0.5})
    store.set_status("finished")
    store.close()
    return store.run_dir


def _session(user: str, teacher: str | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["_dllab_user"] = user  # what ui.session.current_user keeps for a browser
    if teacher:
        at.query_params["teacher"] = teacher
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _listed(at: AppTest) -> set[str]:
    pickers = [s for s in at.selectbox if s.key == "train-view"]
    return {o.split("  (")[0] for o in pickers[0].options} if pickers else set()  # "name  (model on data)"


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A served lab whose upload cache and data root are under tmp_path; returns (runs dir, an upload folder)."""
    (tmp_path / "lab.toml").write_text('served = true\nteacher_token = "t0ken"\n')
    monkeypatch.setenv("DLLAB_CONFIG", str(tmp_path / "lab.toml"))
    monkeypatch.setenv("DLLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("DLLAB_DATA_ROOT", str(tmp_path / "data"))
    upload = tmp_path / "cache" / "uploads" / "abc123"
    upload.mkdir(parents=True)
    return Path(os.environ["DLLAB_RUNS"]), upload


def test_two_sessions_cannot_open_each_others_upload_runs_and_the_teacher_sees_both(served):
    runs, upload = served
    anns, bobs = _finished(runs, str(upload), "ann").name, _finished(runs, str(upload / "b"), "bob").name
    shared = _finished(runs, "builtin:digits", "bob").name
    assert _listed(_session("ann")) == {anns, shared}  # not bob's upload run
    assert _listed(_session("bob")) == {bobs, shared}
    assert _listed(_session("carol", teacher="t0ken")) == {anns, bobs, shared}
    ann = _session("ann")
    table = [d.value for d in ann.dataframe if "status" in d.value.columns][0]
    assert set(table["run"]) == {anns, shared}  # the runs table follows the same rule


def test_a_student_coming_back_finds_their_own_run_not_the_latest(served):
    runs, _ = served
    anns = _finished(runs, "builtin:digits", "ann").name
    bobs = _finished(runs, "builtin:digits", "bob").name  # a neighbour's run, started after ann's
    assert [r.name for r in list_runs(runs)][0] == bobs  # the newest first
    picked = lambda at: [s for s in at.selectbox if s.key == "train-view"][0].value.split("  (")[0]  # noqa: E731
    assert picked(_session("ann")) == anns
    assert picked(_session("carol")) == bobs  # no run of her own: the most recent


def test_only_the_owner_may_delete_and_only_after_confirming(served):
    runs, _ = served
    bobs = _finished(runs, "builtin:digits", "bob")
    ann = _session("ann")  # sees bob's run on shared data, may not delete it
    assert not [b for b in ann.button if b.key == "delete-ask"]
    assert any("Only the person who started this run (or the teacher) can delete it" in c.value for c in ann.caption)
    bob = _session("bob")
    bob.button(key="delete-ask").click().run()
    assert any("removed for good" in w.value for w in bob.warning) and bobs.is_dir()  # asked, nothing deleted yet
    bob.button(key="delete-no").click().run()
    assert not any("removed for good" in w.value for w in bob.warning) and bobs.is_dir()
    bob.button(key="delete-ask").click().run()
    bob.button(key="delete-yes").click().run()
    assert not bob.exception and not bobs.exists() and list_runs(runs) == []
    assert any(f"Deleted {bobs.name}" in t.value for t in bob.toast)


def test_a_running_run_cannot_be_deleted(tmp_path):
    runs = Path(os.environ["DLLAB_RUNS"])
    active = RunStore.create(runs, {"data": "builtin:digits", "model": "mlp", "epochs": 1})
    active.set_status("running")  # this test process is its (live) worker
    at = _session("anyone")
    assert at.button(key="delete-ask").disabled
    active.close()


def test_a_queued_run_shows_its_place_in_the_queue(tmp_path, monkeypatch):
    (tmp_path / "lab.toml").write_text("[limits]\nmax_concurrent_runs = 1\n")  # one slot: the second one waits
    monkeypatch.setenv("DLLAB_CONFIG", str(tmp_path / "lab.toml"))
    runs = Path(os.environ["DLLAB_RUNS"])
    first = RunStore.create(runs, {"data": "builtin:digits", "model": "mlp", "epochs": 1})
    second = RunStore.create(runs, {"data": "builtin:digits", "model": "mlp", "epochs": 1})
    for store in (first, second):
        store.set_pid(os.getpid())  # a live worker waiting for a slot
    at = _session("anyone")
    assert at.selectbox(key="train-view").value == second.run_dir.name  # the newest, second in line
    assert any("number 2 in the queue" in i.value for i in at.info)
    first.close()
    second.close()
