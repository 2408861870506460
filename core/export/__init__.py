"""Runs as building blocks: a run as a plain PyTorch script (``run_script``) and ensembles of runs (``ensemble``)."""
from core.export.script import ScriptUnavailable, run_script, script_blockers, write_script

__all__ = ["run_script", "write_script", "script_blockers", "ScriptUnavailable"]
