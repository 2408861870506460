"""Shared fixtures: every test writes runs into its own temporary runs root."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_runs(tmp_path, monkeypatch):
    """Runs go to a per-test folder; built-in data stays in the shared cache (deterministic, made once)."""
    monkeypatch.setenv("DLLAB_RUNS", str(tmp_path / "runs"))
    yield
