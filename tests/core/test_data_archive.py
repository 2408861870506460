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
