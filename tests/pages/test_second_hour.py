"""AppTests of the second hour's fixes (issue 19): pages open on a usable run, early collapse verdicts, overfitting
flagged, Inspect's frozen count from the run's config, one input size, the Augment hand-over."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.attack_helpers import config_only_run, trained_run

ROOT = Path(__file__).resolve().parents[2]


def _page(name: str) -> str:
    return str(ROOT / "pages" / name)


def _no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_adversarial_opens_on_the_newest_run_it_can_attack(monkeypatch, tmp_path):
    good = trained_run(tmp_path, steps=5)
    config_only_run(tmp_path, "cnn", "builtin:digits", status="stopped")  # newer, stopped before a checkpoint
    config_only_run(tmp_path, "cnn", "builtin:digits", status="failed")  # newest, failed
    monkeypatch.setenv("DLLAB_RUNS", str(tmp_path))
    at = AppTest.from_file(_page("6_Adversarial.py"), default_timeout=90).run()
    _no_errors(at)
    assert at.selectbox(key="adv-run").value == good.name
    assert not [e.value for e in at.error if "Cannot attack" in e.value]


def _stopped_ring_run(runs_dir: Path, at_step: int) -> Path:
    """A toy:ring run planned for 2,000 steps and stopped at ``at_step``, as by the Stop button."""
    from core.gan import GanConfig, fit
    from core.train.callbacks import StopTraining

    class StopAt:
        order = 99

        def after_step(self, loop):
            if loop.step == at_step:
                raise StopTraining("stopped on request", status="stopped")

    cfg = GanConfig(data="toy:ring", model_opts={"hidden": [16]}, batch_size=32, samples=128, epochs=500,
                    snapshot_every=4, runs_dir=str(runs_dir))
    return Path(fit(cfg, [StopAt()]).run_dir)


def test_gan_collapse_meter_says_too_early_to_tell_early_in_a_run(monkeypatch, tmp_path):
    _stopped_ring_run(tmp_path, 12)
    monkeypatch.setenv("DLLAB_RUNS", str(tmp_path))
    at = AppTest.from_file(_page("5_GAN.py"), default_timeout=120).run()
    _no_errors(at)
    early = [i.value for i in at.info if i.value.startswith("Too early to tell")]
    assert early and "step 12" in early[0], [i.value for i in at.info]
    assert not [e.value for e in at.error if "collapse" in e.value.lower()]
    assert any("Watch the chart" in m.value for m in at.markdown)


def test_train_page_flags_overfitting_with_what_to_try(monkeypatch, tmp_path):
    from tests.train_page_helpers import PAGE, inject_finished_run
    from core.train.store import RunStore

    run_dir = inject_finished_run(tmp_path, epochs=1)
    store = RunStore.open(run_dir)  # ten epochs of the text run: validation loss rising from epoch 4
    for e, v in enumerate([0.9, 0.6, 0.5, 0.45, 0.47, 0.49, 0.5, 0.51, 0.52, 0.52]):
        store.log_epoch(e, {"train_loss": 1.0 / (e + 1), "val_loss": v, "train_acc": 0.6 + 0.04 * e,
                            "val_acc": 0.798})
    store.close()
    monkeypatch.setenv("DLLAB_RUNS", str(tmp_path))
    at = AppTest.from_file(PAGE, default_timeout=90).run()
    _no_errors(at)
    flagged = [w.value for w in at.warning if w.value.startswith("Overfitting")]
    assert flagged and "risen since epoch 4 (0.45 → 0.52)" in flagged[0] and "early stopping" in flagged[0]


def _frozen_run(runs_dir: Path, freeze_epochs: int, epochs: int = 4, train_bn: bool = False) -> Path:
    """A resnet18 transfer run on the digits as the trainer leaves it, its backbone frozen ``freeze_epochs``."""
    import torch

    from core import data, models
    from core.train.store import RunStore

    bundle = data.load("builtin:digits")
    run = RunStore.create(runs_dir, {"data": "builtin:digits", "model": "resnet18", "epochs": epochs,
                                     "freeze_epochs": freeze_epochs, "train_bn": train_bn,
                                     "model_opts": {"weights": "none"}, "data_opts": {}})
    run.set_status("running")
    for e in range(epochs):
        run.log_epoch(e, {"train_loss": 1.0 / (e + 1), "val_loss": 1.2 / (e + 1), "val_acc": 0.5})
    model = models.build_for(bundle, "resnet18", weights="none")
    torch.save({"model": model.state_dict()}, run.checkpoint_dir / "best.pt")
    run.set_status("finished")
    run.close()
    return run.run_dir


def test_inspect_shows_what_the_run_froze_not_a_fresh_model(monkeypatch, tmp_path):
    from core.train.optim import set_frozen
    from core.inspect import load_run

    run = _frozen_run(tmp_path, freeze_epochs=4)
    expected = set_frozen(load_run(run).model, True, train_bn=False)  # what the trainer's Freezer froze
    monkeypatch.setenv("DLLAB_RUNS", str(tmp_path))
    at = AppTest.from_file(_page("7_Inspect.py"), default_timeout=120).run()
    _no_errors(at)
    frozen = next(m for m in at.metric if m.label.startswith("Frozen"))
    assert expected > 1_000_000 and frozen.value == f"{expected:,}"
    assert any("stayed frozen for all 4 epoch(s)" in c.value for c in at.caption)


def test_train_model_summary_says_the_backbone_never_trained(monkeypatch, tmp_path):
    from tests.train_page_helpers import PAGE

    _frozen_run(tmp_path, freeze_epochs=4)
    monkeypatch.setenv("DLLAB_RUNS", str(tmp_path))
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.radio(key="results-view").set_value("Model").run()
    _no_errors(at)
    text = " ".join(m.value for m in at.markdown)
    assert "stayed frozen for all 4 epoch(s)" in text and "all trained at the end" not in text


def _photos(root: Path, name: str = "photos", size=(120, 90)) -> str:
    """Two classes of six colour photos (larger than 64 px): the default model is the pretrained photo model."""
    from PIL import Image

    for c, colour in (("ant", (200, 40, 40)), ("bee", (240, 200, 30))):
        (root / name / c).mkdir(parents=True)
        for i in range(6):
            img = Image.new("RGB", size, colour)
            img.paste((i * 40, 90, 200), (10 + 5 * i, 10, 60 + 5 * i, 60))
            img.save(root / name / c / f"{i}.png")
    return name


def test_datasets_shows_the_size_the_default_photo_model_trains_at(monkeypatch, tmp_path):
    from core import data
    from core.models import default_model
    from core.train import recommended

    monkeypatch.setenv("DLLAB_DATA_ROOT", str(tmp_path))
    name = _photos(tmp_path)
    bundle = data.load(str(tmp_path / name))
    model = default_model(bundle)
    side = recommended(model, bundle.source).data_opts["image_size"]  # what Train loads the data at
    assert model == "efficientnet_lite0" and bundle.input_shape[-1] != side
    at = AppTest.from_file(_page("1_Datasets.py"), default_timeout=90).run()
    at.radio(key="datasets_mode").set_value("Path").run()
    at.text_input(key="datasets_path").input(name).run()
    _no_errors(at)
    assert next(m for m in at.metric if m.label == "Input shape").value == f"3×{side}×{side}"
    assert any(f"Training resizes every image to {side}×{side}" in c.value for c in at.caption)


def test_augment_previews_a_dataset_image_at_the_training_size(monkeypatch, tmp_path):
    monkeypatch.setenv("DLLAB_DATA_ROOT", str(tmp_path))
    name = _photos(tmp_path)
    at = AppTest.from_file(_page("2_Augment.py"), default_timeout=90).run()
    at.radio(key="img_src").set_value("Dataset sample").run()
    at.radio(key="img_data_mode").set_value("Path").run()
    at.text_input(key="img_data_path").input(name).run()
    _no_errors(at)
    assert any("(224x224)" in m.value for m in at.markdown), [m.value for m in at.markdown][:8]


def _train_augmentation(state: dict, source: str) -> tuple[str, str]:
    """The Train form's Augmentation choice and its in-sight caption, with the Augment page's hand-over."""
    from tests.train_page_helpers import PAGE

    at = AppTest.from_file(PAGE, default_timeout=90)
    for k in ("augment_for_training", "augment_for_training_from"):
        at.session_state[k] = state[k]
    at.session_state["data_source"] = source
    at.run()
    _no_errors(at)
    radio = next(r for r in at.radio if r.label == "Augmentation")
    return radio.value, " ".join(c.value for c in at.caption if c.value.startswith("Augmentation:"))


def test_augment_says_what_train_will_do_with_the_pipeline_and_train_does_it():
    at = AppTest.from_file(_page("2_Augment.py"), default_timeout=90).run()
    at.button(key="img_use").click().run()  # built on the sample photo the section opens with
    _no_errors(at)
    said = " ".join(m.value for m in [*at.success, *at.info] if "Train" in m.value)
    assert "will use this pipeline" not in said and "does not pick it for you" in said
    choice, caption = _train_augmentation(at.session_state, "builtin:digits")
    assert choice != "from the Augment page" and "from the Augment page" not in caption

    at.radio(key="img_src").set_value("Dataset sample").run()  # the built-in digits
    at.button(key="img_use").click().run()
    said = " ".join(m.value for m in at.success)
    assert "will use this pipeline when it trains on builtin:digits" in said
    choice, caption = _train_augmentation(at.session_state, "builtin:digits")
    assert choice == "from the Augment page" and caption.startswith("Augmentation: from the Augment page")


def test_class_visualisation_that_does_not_reach_a_class_says_so_and_what_to_try(monkeypatch, tmp_path):
    from core.inspect.jobs import read_class_visual, visual_job_config
    from core.jobs import run_inline

    run = trained_run(tmp_path, steps=3)  # barely trained: a short ascent cannot reach every class
    monkeypatch.setenv("DLLAB_RUNS", str(tmp_path))
    job = run_inline("class_visual", visual_job_config(str(run), [0, 1, 2, 3], steps=8), runs_dir=tmp_path)
    vis, result = read_class_visual(job)
    missed = [name for name, p in zip(result["class_names"], vis.end_probs) if p < 0.5]
    assert missed  # the situation of the issue: p well under 50% for a class
    at = AppTest.from_file(_page("7_Inspect.py"), default_timeout=120).run()
    at.radio(key="inspect-view").set_value("Class visualisation").run()
    at.slider(key="inspect-visual-steps").set_value(8).run()
    _no_errors(at)
    note = next(w.value for w in at.warning if w.value.startswith("Not reached"))
    assert f"Not reached for {len(missed)} of 4" in note and all(f"{name}: p = " in note for name in missed)
    assert "Try more ascent steps (now 8, up to 500)" in note


def test_a_typed_path_outside_the_data_root_survives_a_reload(monkeypatch, tmp_path):
    """Not served (one person's lab): the typed folder goes into the address bar, and a reload (a new session
    opened on that address) starts the picker on it."""
    root = tmp_path / "root"
    root.mkdir()
    monkeypatch.setenv("DLLAB_DATA_ROOT", str(root))
    folder = str(tmp_path / "elsewhere" / _photos(tmp_path / "elsewhere"))
    at = AppTest.from_file(_page("3_LR_Finder.py"), default_timeout=90).run()
    at.radio(key="lr-data_mode").set_value("Path").run()
    at.text_input(key="lr-data_path").input(folder).run()
    _no_errors(at)
    assert at.query_params["data"] in (folder, [folder])
    again = AppTest.from_file(_page("4_Train.py"), default_timeout=90)
    again.query_params["data"] = folder  # F5 on that address (here: the same link opened on Train)
    again.run()
    _no_errors(again)
    assert again.radio(key="train-data_mode").value == "Path"
    assert again.text_input(key="train-data_path").value == folder


def test_train_live_view_shows_the_caching_phase_with_its_progress(monkeypatch, tmp_path):
    from core.train.store import RunStore
    from tests.train_page_helpers import PAGE

    run = RunStore.create(tmp_path, {"data": "builtin:digits", "model": "resnet18", "epochs": 10,
                                     "model_opts": {}, "data_opts": {}})
    run.set_status("running")  # the store's heartbeat keeps it running while open
    run.set_progress(120, 480, "caching features: 120 of 480 images through the frozen backbone · about 30 s left")
    run.flush()
    try:
        monkeypatch.setenv("DLLAB_RUNS", str(tmp_path))
        at = AppTest.from_file(PAGE, default_timeout=90).run()
        _no_errors(at)
        bars = [p for p in at.get("progress")]
        texts = [b.proto.text for b in bars]
        assert any(t.startswith("caching features: 120 of 480") and "30 s left" in t for t in texts), texts
        assert any(b.proto.value == 25 for b in bars)  # 120 of 480
    finally:
        run.close()


def test_clips_recorded_at_8_khz_say_why_the_upper_mel_bands_are_empty(monkeypatch, tmp_path):
    import wave

    import numpy as np

    for c, f in (("low", 300.0), ("high", 1500.0)):
        (tmp_path / "tones" / c).mkdir(parents=True)
        for i in range(5):
            t = np.arange(6000) / 8000
            pcm = (0.5 * np.sin(2 * np.pi * f * (1 + 0.01 * i) * t) * 32767).astype("<i2")
            with wave.open(str(tmp_path / "tones" / c / f"{i}.wav"), "wb") as w:
                w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000), w.writeframes(pcm.tobytes())
    monkeypatch.setenv("DLLAB_DATA_ROOT", str(tmp_path))
    at = AppTest.from_file(_page("1_Datasets.py"), default_timeout=90).run()
    at.radio(key="datasets_mode").set_value("Path").run()
    at.text_input(key="datasets_path").input("tones").run()
    _no_errors(at)
    assert any("All 10 clips were recorded at 8000 Hz and resampled to 16000 Hz" in c.value
               and "above 4000 Hz stay empty" in c.value for c in at.caption), [c.value for c in at.caption]


def test_the_runs_table_names_an_upload_not_the_servers_upload_path(monkeypatch, tmp_path):
    from tests.train_page_helpers import PAGE
    from core.train.store import RunStore

    cache = tmp_path / "cache"
    upload = cache / "uploads" / "0123456789abcdef" / "pets"
    upload.mkdir(parents=True)
    monkeypatch.setenv("DLLAB_CACHE", str(cache))
    monkeypatch.setenv("DLLAB_RUNS", str(tmp_path / "runs"))
    run = RunStore.create(tmp_path / "runs", {"data": str(upload), "model": "cnn", "epochs": 1})
    run.set_status("finished")
    run.close()
    at = AppTest.from_file(PAGE, default_timeout=90).run()
    _no_errors(at)
    table = next(d.value for d in at.dataframe if "data" in d.value.columns and "run" in d.value.columns)
    assert list(table["data"]) == ["upload: pets"] and str(cache) not in table.to_string()
