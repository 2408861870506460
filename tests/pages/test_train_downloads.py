"""Issue 13 item 10: the Train page's results offer the plain state_dict (and the Python file that rebuilds the
model) and name the full training checkpoint for what it is."""
from __future__ import annotations

import io
import os
from pathlib import Path

import torch
from streamlit.testing.v1 import AppTest

from core import models
from core.inspect.export import state_dict_bytes
from tests.inspect_helpers import make_run

PAGE = str(Path(__file__).resolve().parents[2] / "pages/4_Train.py")


def test_results_offer_the_plain_state_dict_and_name_the_checkpoint():
    run = make_run(Path(os.environ["DLLAB_RUNS"]), "cnn", "builtin:digits", width=8)
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.radio(key="results-view").set_value("Download").run()
    at.button(key="results-prep").click().run()  # the checkpoint is read only when asked for
    assert not at.exception, [e.value for e in at.exception]
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Download the weights (plain state_dict)", "Download the Python file that rebuilds the model",
                      "Download the full training checkpoint (best.pt: weights, optimizer, schedule)"]
    names = [b.proto.help for b in at.get("download_button")]
    assert "weights_only=True" in names[0] and "['model']" in names[2]
    assert run.name in at.selectbox(key="train-view").value


def test_state_dict_bytes_load_with_plain_pytorch():
    net = models.build("cnn", 10, input_shape=(1, 32, 32), width=8)
    fresh = models.build("cnn", 10, input_shape=(1, 32, 32), width=8)
    fresh.load_state_dict(torch.load(io.BytesIO(state_dict_bytes(net)), weights_only=True))
    x = torch.rand(2, 1, 32, 32)
    torch.testing.assert_close(fresh.eval()(x), net.eval()(x))
