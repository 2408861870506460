"""AppTests of the run-as-building-block views: Export as Python (Inspect page), ensembles, distillation."""
from __future__ import annotations

import os
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.inspect.jobs import export_job_config
from core.jobs import run_inline
from tests.inspect_helpers import make_run

ROOT = Path(__file__).resolve().parents[2]


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _inspect_export(at: AppTest) -> AppTest:
    at.radio(key="inspect-view").set_value("Export").run()
    at.radio(key="inspect-export-format").set_value("script").run()
    _ok(at)
    return at


def test_export_as_python_on_the_inspect_page():
    runs = Path(os.environ["DLLAB_RUNS"])
    run = make_run(runs, "mlp", hidden=[8])
    run_inline("export", export_job_config(str(run), "script"))
    at = _inspect_export(AppTest.from_file(str(ROOT / "pages/7_Inspect.py"), default_timeout=120).run())
    assert any("trains this run again with torch and torchvision only" in s.value for s in at.success)
    stem = run.name.replace('-', '_')
    assert [b.proto.label for b in at.get("download_button")] == [f"Download {stem}.py", f"Download {stem}.ipynb"]


def test_export_as_python_refused_for_a_text_run():
    make_run(Path(os.environ["DLLAB_RUNS"]), "lstm", "builtin:reviews")
    at = _inspect_export(AppTest.from_file(str(ROOT / "pages/7_Inspect.py"), default_timeout=120).run())
    assert any("cannot be exported as a script: only image runs" in i.value for i in at.info)
    assert not at.get("download_button")


def test_ensemble_view_on_the_inspect_page():
    from core.export.ensemble import job_config

    runs = Path(os.environ["DLLAB_RUNS"])
    a, b = make_run(runs, "mlp", hidden=[8]), make_run(runs, "cnn", width=4)
    at = AppTest.from_file(str(ROOT / "pages/7_Inspect.py"), default_timeout=120).run()
    at.selectbox(key="inspect-source").set_value(str(b)).run()
    at.radio(key="inspect-view").set_value("Ensemble").run()
    _ok(at)
    assert any("Choose at least one other run" in i.value for i in at.info)
    at.multiselect(key="inspect-ensemble-members").set_value([str(a)]).run()
    _ok(at)
    assert at.button(key="inspect-ensemble-start").label == "Combine"
    run_inline("ensemble", job_config([str(b), str(a)]))  # what the button's worker does
    at.run()
    _ok(at)
    metrics = {m.label: m.value for m in at.metric}
    assert {"Mean of probabilities", "Majority vote"} < set(metrics)
    assert any(label.startswith("Best member (") for label in metrics)
    assert any("fixes" in md.value and "breaks" in md.value for md in at.markdown)
    assert [d.proto.label for d in at.get("download_button")] == ["Download the ensemble (state_dicts + ensemble.py)"]


def test_distillation_option_on_the_train_page(runs_dir):
    import time

    from core.train.store import ACTIVE, RunStore, list_runs

    teacher = make_run(runs_dir, "cnn", width=4)
    at = AppTest.from_file(str(ROOT / "pages/4_Train.py"), default_timeout=120).run()
    _ok(at)
    at.checkbox(key="train-distill").check().run()
    _ok(at)
    assert any("largely gradient masking" in c.value for c in at.caption)
    assert at.selectbox(key="train-distill-teacher").value == str(teacher)
    at.number_input(key="train-distill-t").set_value(20.0).run()
    [n for n in at.number_input if n.label == "Step limit (0 = none)"][0].set_value(2)
    [n for n in at.number_input if n.label == "Epochs"][0].set_value(1)
    at.run()
    assert not [e.value for e in at.error if e.value.startswith("Cannot start")]
    at.button(key="train-start").click().run()
    _ok(at)
    student = next(r for r in list_runs(runs_dir) if str(r.run_dir) != str(teacher))
    cfg = RunStore.open(student.run_dir).config()
    assert cfg["distill"] == {"teacher": str(teacher), "temperature": 20.0, "alpha": 0.0}
    deadline = time.time() + 120
    while RunStore.open(student.run_dir).info().status in ACTIVE and time.time() < deadline:
        time.sleep(0.5)
    assert RunStore.open(student.run_dir).info().status == "finished"
    assert "distilling from" in " ".join(RunStore.open(student.run_dir).notes().message)


def test_export_as_python_in_the_train_results():
    runs = Path(os.environ["DLLAB_RUNS"])
    run = make_run(runs, "mlp", hidden=[8])
    at = AppTest.from_file(str(ROOT / "pages/4_Train.py"), default_timeout=120).run()
    at.radio(key="results-view").set_value("Download").run()
    _ok(at)
    assert at.button(key="results-script-start").label == "Export as Python"
    run_inline("export", export_job_config(str(run), "script"))  # what the button's worker does
    at.run()
    _ok(at)
    assert any("trains this run again" in s.value for s in at.success)
    stem = run.name.replace("-", "_")
    labels = [b.proto.label for b in at.get("download_button")]
    assert f"Download {stem}.py" in labels and f"Download {stem}.ipynb" in labels
