"""Who sees which run on a served app (core.access), and the runs index behind the runs list."""
from __future__ import annotations

import os
import sqlite3

import pytest

from core.access import can_delete, can_view, first_to_show, shared_source, visible_runs
from core.settings import Settings
from core.train.run_index import INDEX_NAME, RunIndex
from core.train.store import RunStore, delete_run, list_runs


@pytest.fixture
def served(tmp_path):
    root, cache = tmp_path / "data", tmp_path / "cache"
    (root / "photos").mkdir(parents=True)
    (cache / "uploads" / "abc123").mkdir(parents=True)
    return Settings(runs_dir=tmp_path / "runs", cache_dir=cache, data_root=root, served=True)


def _run(runs, data, owner):
    return RunStore.create(runs, {"data": data, "model": "mlp"}, owner=owner).info()


def test_served_sessions_see_their_own_runs_and_shared_data_only(served):
    runs, upload = served.runs_dir, str(served.cache_dir / "uploads" / "abc123")
    ann_upload, bob_upload = _run(runs, upload, "ann"), _run(runs, upload + "/sub", "bob")
    builtin, folder = _run(runs, "builtin:digits", "bob"), _run(runs, str(served.data_root / "photos"), "bob")
    relative, outside = _run(runs, "photos", "bob"), _run(runs, "/etc", "bob")
    seen = {r.name for r in visible_runs(list_runs(runs), "ann", served)}
    assert seen == {ann_upload.name, builtin.name, folder.name, relative.name}  # not bob's upload, not /etc
    assert {r.name for r in visible_runs(list_runs(runs), "bob", served)} == {
        bob_upload.name, builtin.name, folder.name, relative.name, outside.name}
    assert len(visible_runs(list_runs(runs), "ann", served, teacher=True)) == 6  # the teacher sees all
    assert not can_view(bob_upload, None, served)  # no user, no private runs


def test_only_the_owner_deletes_on_a_served_app_and_anyone_when_not_served(served):
    run = _run(served.runs_dir, "builtin:digits", "ann")
    assert can_delete(run, "ann", served) and not can_delete(run, "bob", served)
    assert not can_delete(_run(served.runs_dir, "builtin:digits", None), "ann", served)  # a CLI run: nobody's
    alone = Settings(runs_dir=served.runs_dir, served=False)
    assert can_delete(run, "bob", alone) and can_view(run, "bob", alone)


def test_shared_sources(served):
    assert shared_source("builtin:digits", served) and shared_source("toy:ring", served)
    assert shared_source(str(served.data_root / "photos"), served)
    assert not shared_source(str(served.cache_dir / "uploads" / "abc123"), served)
    assert not shared_source("../outside", served) and not shared_source("", served)
    inside_root = Settings(cache_dir=served.data_root / ".cache", data_root=served.data_root, served=True)
    assert not shared_source(str(served.data_root / ".cache" / "uploads" / "x"), inside_root)  # uploads stay private


def test_runs_list_is_one_index_query_and_mirrors_what_runs_record(tmp_path, monkeypatch):
    run = RunStore.create(tmp_path, {"data": "builtin:digits", "model": "mlp", "epochs": 3}, owner="ann")
    run.set_status("running")
    run.log_step(4, 0, loss=0.5, lr=1e-3)
    run.log_epoch(0, {"val_acc": 0.75})
    run.set_progress(2, 10, "two of ten")
    run.set_status("finished")
    opened = []
    monkeypatch.setattr(RunStore, "summary_row", lambda self: opened.append(self) or {})
    [info] = list_runs(tmp_path)
    assert opened == []  # the run's own database was not opened: the index answered
    assert (info.status, info.owner, info.epochs_done, info.best_val_acc) == ("finished", "ann", 1, 0.75)
    assert (info.last_step, info.last_loss, info.progress_done, info.progress_text) == (4, 0.5, 2, "two of ten")
    monkeypatch.undo()
    assert RunStore.open(run.run_dir).info() == info  # the index says what the run's own database says


def test_the_index_heals_unknown_deleted_and_dead_runs(tmp_path):
    a = RunStore.create(tmp_path, {"data": "builtin:digits", "model": "mlp"})
    b = RunStore.create(tmp_path, {"data": "builtin:digits", "model": "cnn"})
    (tmp_path / INDEX_NAME).unlink()  # an index lost (or runs copied in from elsewhere)
    (tmp_path / f"{INDEX_NAME}-wal").unlink(missing_ok=True)
    assert {r.name for r in list_runs(tmp_path)} == {a.run_dir.name, b.run_dir.name}
    import shutil

    shutil.rmtree(b.run_dir)  # deleted by hand
    assert [r.name for r in list_runs(tmp_path)] == [a.run_dir.name]
    assert [r["name"] for r in RunIndex(tmp_path).rows()] == [a.run_dir.name]
    # the index still says running, but the worker died without writing the end into the index
    a.set_status("running")
    RunIndex(tmp_path).update(a.run_dir.name, status="running", pid=2 ** 22 + 12345)
    con = sqlite3.connect(a.db_path)
    con.execute("UPDATE meta SET status = 'finished', pid = ?", (os.getpid(),))
    con.commit()
    con.close()
    assert list_runs(tmp_path)[0].status == "finished"  # re-read from the run's own database


def test_delete_run_refuses_an_active_run_and_removes_a_finished_one(tmp_path):
    run = RunStore.create(tmp_path, {"data": "builtin:digits", "model": "mlp"})
    run.set_status("running")
    with pytest.raises(ValueError, match="stop it before deleting"):
        delete_run(run.run_dir)
    run.set_status("finished")
    delete_run(run.run_dir)
    assert not run.run_dir.exists() and list_runs(tmp_path) == [] and RunIndex(tmp_path).rows() == []


def test_first_to_show_is_the_users_latest_else_the_latest(served):
    runs = served.runs_dir
    ann_old, bob_new = _run(runs, "builtin:digits", "ann"), _run(runs, "builtin:digits", "bob")
    newest_first = list_runs(runs)
    assert newest_first[0].name == bob_new.name
    assert first_to_show(newest_first, "ann").name == ann_old.name
    assert first_to_show(newest_first, "carol").name == bob_new.name
    assert first_to_show(newest_first, None).name == bob_new.name  # a lab that is not served has no users
    assert first_to_show([], "ann") is None



def _ended(runs, data, owner, status, checkpoint=False):
    run = RunStore.create(runs, {"data": data, "model": "mlp"}, owner=owner)
    run.set_status(status)
    run.close()
    if checkpoint:
        (run.run_dir / "checkpoints").mkdir(exist_ok=True)
        (run.run_dir / "checkpoints" / "last.pt").write_bytes(b"x")
    return run.run_dir.name


def test_first_to_show_opens_on_the_newest_usable_run_never_on_someone_elses_failed_one(served):
    runs = served.runs_dir
    good = _ended(runs, "builtin:digits", "bob", "finished", checkpoint=True)
    _ended(runs, "builtin:digits", "bob", "stopped")  # stopped before its first checkpoint
    _ended(runs, "builtin:digits", "bob", "failed")
    newest_first = list_runs(runs)
    assert first_to_show(newest_first, "carol", settings=served).name == good  # not bob's newer failed runs
    assert first_to_show(newest_first, None, settings=served).name == good
    ann_failed = _ended(runs, "builtin:digits", "ann", "failed")
    assert first_to_show(list_runs(runs), "ann", settings=served).name == good  # a usable run before her failure
    only_failed = [r for r in list_runs(runs) if r.status == "failed"]
    assert first_to_show(only_failed, "ann", settings=served).name == ann_failed  # her own failure explains itself
    assert first_to_show([r for r in only_failed if r.owner == "bob"], "carol", settings=served) is None
    not_served = Settings(runs_dir=runs, cache_dir=served.cache_dir, data_root=served.data_root, served=False)
    assert first_to_show(only_failed, None, settings=not_served).name == only_failed[0].name


def test_an_upload_is_shown_by_its_own_name_not_the_servers_path(served):
    from core.access import source_label

    upload = served.cache_dir / "uploads" / "abc123" / "pets"
    assert source_label(str(upload), served) == "upload: pets"
    assert source_label(str(served.cache_dir / "uploads" / "abc123"), served) == "upload: (its top folder)"
    assert source_label("builtin:digits", served) == "builtin:digits"
    assert source_label(str(served.data_root / "photos"), served) == str(served.data_root / "photos")
