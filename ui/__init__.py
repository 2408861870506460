"""Streamlit and plotly helpers shared by the pages (widgets that return configs, figures, the job watcher)."""
from __future__ import annotations

import importlib
import pkgutil
import threading

_IMPORTS = threading.Lock()
_warm = False


def warm_imports() -> None:
    """Import every ui module (and so pandas, plotly, torch and core) once per server process, one session at a time.

    Sessions are threads of one process. Two sessions opening their first pages together would import pandas in
    two threads at once, and Python's deadlock avoidance can then hand one of them a half-initialised module
    ("partially initialized module 'pandas' has no attribute 'Series'", seen in bench/bench_serve.py with two students).
    """
    global _warm
    with _IMPORTS:
        if _warm:
            return
        for module in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{module.name}")
        _warm = True
