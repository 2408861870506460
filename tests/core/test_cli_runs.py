"""``python -m core runs``: a readable table, and ``--delete RUN`` with a confirmation and the owner rule (item 10)."""
from __future__ import annotations


from core.__main__ import main
from core.train.store import RunStore, list_runs


def _run(runs, owner=None, status="finished", acc=0.875):
    store = RunStore.create(runs, {"data": "builtin:digits", "model": "mlp", "epochs": 2}, owner=owner)
    if acc is not None:
        store.log_epoch(0, {"train_loss": 1.0, "val_loss": 0.9, "val_acc": acc})
    store.set_status(status)
    store.close()
    return store.run_dir


def test_the_table_shows_percent_and_dashes_not_none(tmp_path, capsys):
    runs = tmp_path / "runs"
    _run(runs, acc=0.875)
    _run(runs, acc=None, status="stopped")
    assert main(["runs", "--runs-dir", str(runs)]) == 0
    table = capsys.readouterr().out
    assert "87.5%" in table and "0.875" not in table and "None" not in table
    assert table.splitlines()[0].split() == ["run", "kind", "status", "data", "model", "epochs", "best", "val", "acc",
                                             "duration"]


def test_delete_asks_and_removes_the_run(tmp_path, capsys, monkeypatch):
    runs = tmp_path / "runs"
    keep, gone = _run(runs), _run(runs)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert main(["runs", "--runs-dir", str(runs), "--delete", gone.name]) == 1  # answered no
    assert gone.is_dir()
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    assert main(["runs", "--runs-dir", str(runs), "--delete", gone.name]) == 0
    assert not gone.exists() and keep.is_dir() and [r.name for r in list_runs(runs)] == [keep.name]
    assert f"deleted {gone.name}" in capsys.readouterr().out


def test_delete_refuses_an_active_run_and_an_unknown_one(tmp_path, capsys):
    runs = tmp_path / "runs"
    active = RunStore.create(runs, {"data": "builtin:digits", "model": "mlp"})
    active.set_status("running")  # this process is its worker: alive
    assert main(["runs", "--runs-dir", str(runs), "--delete", active.run_dir.name, "--yes"]) == 1
    assert "stop it before deleting it" in capsys.readouterr().err and active.run_dir.is_dir()
    active.close()
    assert main(["runs", "--runs-dir", str(runs), "--delete", "no-such-run", "--yes"]) == 1


def test_on_a_served_lab_only_the_owner_deletes(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DLLAB_SERVED", "1")
    runs = tmp_path / "runs"
    anns = _run(runs, owner="ann")
    assert main(["runs", "--runs-dir", str(runs), "--delete", anns.name, "--yes"]) == 1
    assert "belongs to ann" in capsys.readouterr().err and anns.is_dir()
    assert main(["runs", "--runs-dir", str(runs), "--delete", anns.name, "--yes", "--user", "bob"]) == 1
    assert main(["runs", "--runs-dir", str(runs), "--delete", str(anns), "--yes", "--user", "ann"]) == 0
    assert not anns.exists()
    cli_run = _run(runs, owner=None)  # started from the command line: the operator's
    assert main(["runs", "--runs-dir", str(runs), "--delete", cli_run.name, "--yes"]) == 0


def test_runs_table_for_the_page_is_readable():
    import dataclasses

    from ui.run_list import runs_table

    base = list_runs.__globals__["RunInfo"]  # the RunInfo the store returns
    info = base(run_dir="x", name="x", status="finished", data="d", model="m", epochs=3, epochs_done=3,
                last_step=9, best_val_acc=0.9032, last_loss=0.1, started=1.0e9, ended=1.0e9 + 80, duration=80.0,
                error=None, steps_per_epoch=3, total_steps=9, stop_requested=False)
    table = runs_table([info, dataclasses.replace(info, best_val_acc=None, duration=None, started=None)])
    assert list(table["best val acc"]) == ["90.3%", "—"] and list(table["duration"]) == ["1 min 20 s", "—"]
    assert "None" not in table.to_string() and "nan" not in table.to_string()
