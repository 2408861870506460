"""AppTest of the Train page's results: predictions on an upload or a typed sentence, and the downloads."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.data.images import NOT_AN_IMAGE
from tests.train_page_helpers import PAGE, inject_finished_run, no_errors as _no_errors


def test_uploaded_image_is_predicted_from_a_temporary_copy(runs_dir, tmp_path, monkeypatch):
    import tempfile

    from core.train.evaluate import load_run_model, predict_one
    from ui.runs import _probabilities

    model, bundle = load_run_model(inject_finished_run(runs_dir))
    path = Path(bundle.splits["val"].paths[0])

    class Upload:  # what st.file_uploader returns, as far as the page uses it
        name = path.name

        def getvalue(self):
            return path.read_bytes()

    temp = tmp_path / "temp"  # this test's own temporary folder: nothing else writes there
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    seen = []
    real_predict = predict_one
    monkeypatch.setattr("core.train.evaluate.predict_one",
                        lambda m, b, item: seen.append(Path(item)) or real_predict(m, b, item))
    probs = _probabilities(model, bundle, None, Upload())
    assert probs == pytest.approx(predict_one(model, bundle, path))
    assert seen and seen[0].parent == temp and seen[0].suffix == path.suffix  # predicted from a copy there
    assert list(temp.iterdir()) == []  # and the copy is gone


    class NotAnImage(Upload):
        name = "notes.png"

        def getvalue(self):
            return b"this is not an image"

    with pytest.raises(ValueError) as err:
        _probabilities(model, bundle, None, NotAnImage())
    assert NOT_AN_IMAGE in str(err.value)  # said plainly (the page puts the user's file name before it)
    assert tempfile.gettempdir() not in str(err.value)  # and no temporary path


def test_predict_keeps_the_user_on_the_predict_view(runs_dir):
    """Issue 13 item 3: a typed sentence (a rerun) must not jump back to the confusion matrix."""
    inject_finished_run(runs_dir, "lstm", source="builtin:reviews")
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    view = at.radio(key="results-view")
    assert view.value == "Confusion matrix" and "Predict" in view.options
    view.set_value("Predict").run()
    at.text_input(key="results-sentence").input("what a wonderful film").run()
    _no_errors(at)
    assert at.radio(key="results-view").value == "Predict"  # still where the user was
    specs = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "Class probabilities" in specs and "Confusion matrix" not in specs  # one view shown, the chosen one


def test_the_checkpoint_is_read_only_when_asked_for_and_named_for_what_it_is(runs_dir, monkeypatch):
    """Issue 8: the download button read the checkpoint into memory on every rerun; issue 13 item 10: its name."""
    run = inject_finished_run(runs_dir)
    reads = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: reads.append(self.name) or real(self))
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.radio(key="results-view").set_value("Download").run()
    _no_errors(at)
    assert "best.pt" not in reads
    assert not [b for b in at.get("download_button") if "training checkpoint" in b.proto.label]
    assert any("training checkpoint" in m.value and '"model"' in m.value for m in at.markdown)
    at.button(key="results-prep").click().run()
    assert reads.count("best.pt") == 1
    assert [b for b in at.get("download_button") if "training checkpoint" in b.proto.label]
    assert run.is_dir()
