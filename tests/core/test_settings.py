"""Settings from lab.toml and the environment; typed paths confined to the data root when served."""
from pathlib import Path

import pytest
import torch

from core.device import describe_device, pick_device
from core.settings import Settings, load_settings, resolve_user_path


def test_lab_toml_then_environment(tmp_path, monkeypatch):
    cfg = tmp_path / "lab.toml"
    cfg.write_text('runs_dir = "r"\ndata_root = "/srv/data"\nserved = true\n[limits]\nmax_epochs = 7\n')
    monkeypatch.setenv("DLLAB_CONFIG", str(cfg))
    monkeypatch.delenv("DLLAB_RUNS", raising=False)
    s = load_settings()
    assert (s.runs_dir, s.data_root, s.served, s.limits.max_epochs) == (Path("r"), Path("/srv/data"), True, 7)
    assert s.limits.max_batch_size == 1024  # untouched defaults stay
    monkeypatch.setenv("DLLAB_RUNS", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("DLLAB_SERVED", "0")
    s = load_settings()
    assert s.runs_dir == tmp_path / "elsewhere" and s.served is False


def _served(root: Path) -> Settings:
    return Settings(data_root=root, served=True)


def test_served_paths_stay_inside_the_data_root(tmp_path):
    root = tmp_path / "data"
    (root / "photos").mkdir(parents=True)
    (tmp_path / "secret").mkdir()
    (root / "escape").symlink_to(tmp_path / "secret")
    assert resolve_user_path("photos", _served(root)) == (root / "photos").resolve()
    assert resolve_user_path(str(root / "photos"), _served(root)) == (root / "photos").resolve()
    for bad in ("../secret", str(tmp_path / "secret"), "/etc", "escape", "photos/../../secret"):
        with pytest.raises(PermissionError, match="outside the data root"):
            resolve_user_path(bad, _served(root))


def test_unserved_paths_may_go_anywhere(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    assert resolve_user_path("../x", Settings(data_root=root)) == (tmp_path / "x").resolve()


@pytest.mark.parametrize("cuda, mps, expected", [(True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"),
                                                 (False, False, "cpu")])
def test_auto_device_prefers_cuda_then_mps_then_cpu(cuda, mps, expected, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert pick_device() == torch.device(expected) and pick_device("auto") == torch.device(expected)


def test_an_explicit_device_is_taken_as_given(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("cuda:1") == torch.device("cuda", 1)
    assert describe_device(torch.device("cpu")) == f"cpu ({torch.get_num_threads()} threads)"


def test_default_data_root_and_cache_follow_the_process_not_the_import(tmp_path, monkeypatch):
    monkeypatch.delenv("DLLAB_DATA_ROOT", raising=False)
    monkeypatch.delenv("DLLAB_CACHE", raising=False)
    monkeypatch.setenv("DLLAB_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert load_settings().data_root == tmp_path
    assert Settings().cache_dir == tmp_path / "home" / ".cache" / "dllab"
