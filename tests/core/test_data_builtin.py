"""Built-in sets: generated atomically (safe under a race), deterministically, into the cache folder."""
from __future__ import annotations

import hashlib
import multiprocessing as mp

import pytest

from core.data import builtin
from core.data.photos import sample_photos


def _digest(folder):
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode() + p.read_bytes())
    return h.hexdigest()


def _ensure(args):
    name, cache = args
    return str(builtin.ensure(name, cache_dir=cache))


def test_two_processes_racing_get_one_complete_copy(tmp_path):
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"  # fork: no re-import, a faster test
    with mp.get_context(method).Pool(2) as pool:
        paths = pool.map(_ensure, [("reviews", tmp_path)] * 2)
    assert paths[0] == paths[1]
    folder = builtin.builtin_path("reviews", tmp_path)
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no temporary folders left behind
    assert len((folder / "reviews.csv").read_bytes().splitlines()) == 700


def test_generation_is_deterministic(tmp_path):
    for name in ("reviews", "digits"):
        a = builtin.ensure(name, cache_dir=tmp_path / "a")
        b = builtin.ensure(name, cache_dir=tmp_path / "b")
        assert _digest(a) == _digest(b)


def test_failed_generation_leaves_nothing(tmp_path, monkeypatch):
    def broken(out):
        (out / "half.txt").write_text("partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(builtin, "_generator", lambda name: broken)
    with pytest.raises(RuntimeError, match="disk full"):  # the generator's error reaches the caller
        builtin.ensure("shapes", cache_dir=tmp_path)
    assert not builtin.is_ready("shapes", tmp_path) and list((tmp_path / "builtin").iterdir()) == []


def test_sample_photos_include_the_cat():
    photos = sample_photos()
    assert {"cat", "astronaut", "coffee"} <= set(photos)
    assert photos["cat"].mode == "RGB" and photos["cat"].size == (451, 300)
    photos["cat"].paste((0, 0, 0), (0, 0, 10, 10))
    assert sample_photos()["cat"].getpixel((0, 0)) != (0, 0, 0)  # callers get copies


def test_datasets_pickle_for_dataloader_workers():
    import pickle

    import torch

    from core.data import load

    for source in ("builtin:digits", "builtin:reviews", "builtin:sounds"):
        b = load(source)
        ds = pickle.loads(pickle.dumps(b.splits["val"]))  # what DataLoader(num_workers > 0) does with spawn
        x, y = ds[0]
        assert torch.equal(x, b.splits["val"][0][0]) and y == b.splits["val"][0][1]
        assert pickle.loads(pickle.dumps(b.collate_fn)) is b.collate_fn


def test_the_builtin_kind_map_agrees_with_the_files_and_drives_the_menus():
    """Reference: format detection from the generated files (core.data.load.detect_kind), not the map itself."""
    from core.data import BUILTINS, builtin_sources
    from core.data.load import _resolve, detect_kind

    for name in BUILTINS:
        path, implied = _resolve(f"builtin:{name}")
        assert implied == detect_kind(path), name
        assert f"builtin:{name}" in builtin_sources((implied,))
    assert builtin_sources() == [f"builtin:{n}" for n in BUILTINS]
    assert builtin_sources(("image",)) == ["builtin:digits", "builtin:shapes"] and builtin_sources(("nope",)) == []
