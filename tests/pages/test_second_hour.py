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
