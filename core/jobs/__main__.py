"""The worker process: ``python -m core.jobs RUN_DIR`` runs the job recorded in RUN_DIR (started by ``launch``)."""
import sys

from core.jobs.worker import run_worker

if len(sys.argv) != 2:
    sys.exit("usage: python -m core.jobs RUN_DIR")
sys.exit(run_worker(sys.argv[1]))
