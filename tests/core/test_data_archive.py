"""Uploaded zips: unpacked safely (no traversal, no links, size caps) and loadable."""
from __future__ import annotations

import io
import stat
import zipfile

import pytest
from PIL import Image

from core.data import DataError, load
from core.data.archive import _copy_limited, extract_upload, safe_extract, save_upload
from core.settings import Limits


def _zip(path, entries):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def _png_bytes(tmp_path, colour):
    p = tmp_path / "tmp.png"
    Image.new("RGB", (12, 12), colour).save(p)
    return p.read_bytes()


def test_zip_of_an_image_folder_loads(tmp_path):
    entries = {f"pets/{c}/{i}.png": _png_bytes(tmp_path, (i * 40, 0, 0)) for c in ("cat", "dog") for i in range(4)}
    entries["__MACOSX/pets/._cat"] = b"junk"
    z = _zip(tmp_path / "pets.zip", entries)
    root = extract_upload(z, cache_dir=tmp_path / "cache")
    assert root.name == "pets" and sorted(c.name for c in root.iterdir()) == ["cat", "dog"]
    assert extract_upload(z, cache_dir=tmp_path / "cache") == root  # unpacked once, by content
    b = load(str(root))
    assert b.classes == ["cat", "dog"]


def test_zip_path_given_to_load_is_unpacked(tmp_path, monkeypatch):
    monkeypatch.setenv("DLLAB_CACHE", str(tmp_path / "cache"))
    z = _zip(tmp_path / "t.zip", {"reviews.tsv": "good\tpos\nbad\tneg\n" * 4})
    assert load(str(z)).classes == ["neg", "pos"]


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/evil.txt", "a/../../evil.txt", "C:/evil.txt"])
def test_path_traversal_is_refused_and_nothing_is_written(tmp_path, name):
    z = _zip(tmp_path / "bad.zip", {"ok.txt": "fine", name: "evil"})
    with pytest.raises(DataError, match="outside"):
        safe_extract(z, tmp_path / "out" / "x")
    assert not (tmp_path / "out" / "x").exists() and not (tmp_path / "evil.txt").exists()
    assert list((tmp_path / "out").iterdir()) == []  # the temporary folder is gone too


def test_symlink_entries_are_refused(tmp_path):
    z = tmp_path / "link.zip"
    with zipfile.ZipFile(z, "w") as zf:
        info = zipfile.ZipInfo("data/link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(DataError, match="symbolic link"):
        safe_extract(z, tmp_path / "out")


def test_size_limits(tmp_path):
    z = _zip(tmp_path / "bomb.zip", {"zeros.bin": b"\0" * (3 * 2**20)})  # 3 MB that compresses to a few KB
    assert z.stat().st_size < 2**20
    with pytest.raises(DataError, match="more than 2 MB"):
        safe_extract(z, tmp_path / "out", Limits(max_extract_mb=2))
    with pytest.raises(DataError, match="upload limit"):
        save_upload(b"\0" * (2**20 + 1), "big.zip", cache_dir=tmp_path, limits=Limits(max_upload_mb=1))


def test_bytes_are_counted_while_writing_not_just_from_headers(tmp_path):
    # zipfile already stops at the declared size; the running count is the second line of defence
    with pytest.raises(DataError, match="more than the allowed size"):
        _copy_limited(io.BytesIO(b"\1" * (3 * 2**20)), tmp_path / "a.bin", budget=2 * 2**20)
    assert _copy_limited(io.BytesIO(b"\1" * 100), tmp_path / "b.bin", budget=100) == 100


def test_not_a_zip(tmp_path):
    f = tmp_path / "fake.zip"
    f.write_text("hello")
    with pytest.raises(DataError, match="not a zip"):
        safe_extract(f, tmp_path / "out")


def test_a_refused_upload_is_named_as_uploaded_and_not_kept(tmp_path):
    with pytest.raises(DataError, match=r"^holiday\.zip is not a zip archive"):
        save_upload(b"hello", "holiday.zip", cache_dir=tmp_path)
    assert not list((tmp_path / "uploads").glob("*.zip"))


def test_too_many_entries_are_refused_before_anything_is_written(tmp_path):
    z = _zip(tmp_path / "many.zip", {f"d/{i}.txt": "x" for i in range(30)})
    with pytest.raises(DataError, match="holds 30 files and folders; this server unpacks at most 20"):
        safe_extract(z, tmp_path / "out" / "x", Limits(max_zip_entries=20))
    assert not (tmp_path / "out" / "x").exists() and list((tmp_path / "out").iterdir()) == []
    assert safe_extract(z, tmp_path / "ok", Limits(max_zip_entries=30)).is_dir()  # at the cap: fine


def _upload(folder, name: str, mb: float, used: float):
    """An upload as save_upload leaves it: NAME.zip and the unpacked NAME/ folder, last used at time ``used``."""
    import os

    (folder / name).mkdir(parents=True)
    (folder / name / "data.bin").write_bytes(b"x" * int(mb * 2**20))
    (folder / f"{name}.zip").write_bytes(b"z" * 1000)
    for p in (folder / name, folder / f"{name}.zip"):
        os.utime(p, (used, used))


def test_uploads_unused_too_long_are_pruned(tmp_path):
    from core.data.archive import prune_uploads

    now, hour = 1_000_000.0, 3600.0
    _upload(tmp_path, "old", 0.1, now - 30 * hour)
    _upload(tmp_path, "recent", 0.1, now - 2 * hour)
    (tmp_path / ".x.zip.123.part").write_bytes(b"p")  # an upload being written: never touched
    deleted = prune_uploads(tmp_path, Limits(upload_keep_hours=24, upload_cache_mb=100), now=now)
    assert deleted == ["old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".x.zip.123.part", "recent", "recent.zip"]


def test_uploads_beyond_the_size_cap_go_least_recently_used_first(tmp_path):
    from core.data.archive import prune_uploads

    now = 1_000_000.0
    for i, name in enumerate(["a", "b", "c", "d"]):  # 0.4 MB each, a used first, d last
        _upload(tmp_path, name, 0.4, now - 100 + i)
    deleted = prune_uploads(tmp_path, Limits(upload_keep_hours=24, upload_cache_mb=1), now=now, keep="a")
    assert deleted == ["b", "c"]  # 1.6 MB -> 0.8 MB; 'a' is the one being saved
    assert sorted(p.name for p in tmp_path.iterdir() if not p.suffix) == ["a", "d"]


def test_saving_an_upload_prunes_the_others(tmp_path):
    import os

    folder = tmp_path / "uploads"
    _upload(folder, "stale", 0.1, 1.0)  # last used in 1970
    z = _zip(tmp_path / "t.zip", {"reviews.tsv": "good\tpos\nbad\tneg\n" * 4})
    root = save_upload(z.read_bytes(), "t.zip", cache_dir=tmp_path, limits=Limits(upload_keep_hours=1))
    assert root.is_file() and not (folder / "stale").exists() and not (folder / "stale.zip").exists()
    assert os.path.getmtime(root.parent) > 1e9  # the new upload counts as used now
