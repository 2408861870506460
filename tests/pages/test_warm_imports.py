"""Sessions are threads of one process: the first pages of several sessions at once must not import pandas, plotly and
torch in several threads together (one of them can get a half-initialised module)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys, threading, pkgutil
import ui
errors = []
def session():
    try:
        ui.warm_imports()
        import pandas
        pandas.Series([1])  # the symptom seen: 'partially initialized module pandas has no attribute Series'
    except Exception as err:
        errors.append(repr(err))
threads = [threading.Thread(target=session) for _ in range(4)]
[t.start() for t in threads]; [t.join() for t in threads]
missing = [m.name for m in pkgutil.iter_modules(ui.__path__) if f"ui.{m.name}" not in sys.modules]
print(errors, missing)
sys.exit(bool(errors or missing))
"""


def test_four_sessions_starting_together_import_everything_once_without_error():
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
