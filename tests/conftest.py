"""Shared fixtures: every test writes runs into its own temporary runs root."""
from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_runs(tmp_path, monkeypatch):
    """Runs go to a per-test folder; built-in data stays in the shared cache (deterministic, made once); nothing is
    downloaded (pretrained weights stay what the machine has)."""
    monkeypatch.setenv("DLLAB_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("DLLAB_ALLOW_DOWNLOADS", "0")  # tests never download pretrained weights
    yield


@pytest.fixture
def runs_dir(_isolated_runs):
    """This test's runs root (what DLLAB_RUNS names)."""
    return Path(os.environ["DLLAB_RUNS"])
