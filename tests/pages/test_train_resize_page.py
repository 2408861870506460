"""AppTest of the Train page's 'Start small and get bigger' option and the size marks on a run's charts."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest

from core.train.store import RunStore
from tests.train_page_helpers import PAGE, inject_finished_run, no_errors


def test_schedule_is_prefilled_checked_and_sent_with_the_config(runs_dir, monkeypatch):
    launched = []

    def fake_launch(config, kind=None, owner=None):
        launched.append(config)
        raise ValueError("not in this test")  # the page shows it and stays

    monkeypatch.setattr("core.train.worker.launch", fake_launch)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    no_errors(at)
    at.checkbox(key="train-resize").check().run()
    text = at.text_input(key="train-resize-text")
    assert text.value.endswith(":32")  # digits are 32 px by default: the schedule ends there
    text.set_value("0:16, 1:24").run()
    assert any("must end at the data's image size (32 px)" in e.value for e in at.error)
    assert at.button(key="train-start").disabled  # refused on the form, as the worker would
    at.text_input(key="train-resize-text").set_value("0:16, 2:32").run()
    assert not any("size schedule" in e.value for e in at.error) and not at.button(key="train-start").disabled
    at.button(key="train-start").click().run()
    no_errors(at)
    assert launched and launched[-1].size_schedule == [[0, 16], [2, 32]]


def test_charts_mark_where_the_input_size_changed(runs_dir):
    run = inject_finished_run(runs_dir, "cnn", epochs=3)
    store = RunStore.open(run)
    for e, size in enumerate((16, 16, 32)):
        store.log_epoch(e, {"input_size": size})
    store.close()
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    no_errors(at)
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    accuracy = next(s for s in specs if '"text":"Accuracy"' in s)
    loss = next(s for s in specs if '"text":"Loss"' in s)
    for spec in (accuracy, loss):
        assert spec.count("16 px") == 1 and spec.count("32 px") == 1  # one mark per size, where it starts
