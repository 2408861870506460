"""core.train.overfit: the one rule that flags overfitting from a run's per-epoch table (issue 19 item 9)."""
from __future__ import annotations

from core.train.overfit import overfitting

VAL = [0.9, 0.6, 0.5, 0.45, 0.47, 0.49, 0.5, 0.51, 0.52, 0.52]  # the text run: lowest at epoch 4


def _rows(val, train=None, train_acc=0.99, val_acc=0.798):
    train = train or [1.0 / (e + 1) for e in range(len(val))]
    return [dict(epoch=e, train_loss=t, val_loss=v, train_acc=train_acc, val_acc=val_acc)
            for e, (t, v) in enumerate(zip(train, val))]


def test_a_validation_loss_rising_while_the_training_loss_falls_is_flagged_with_what_to_try():
    found = overfitting(_rows(VAL))
    assert found.best_epoch == 4 and found.best_val_loss == 0.45 and found.last_val_loss == 0.52
    assert "risen since epoch 4 (0.45 → 0.52)" in found.message and "99.0% against 79.8%" in found.message
    assert any("Turn on early stopping" in a for a in found.advice)
    assert any("Early stopping is on (3" in a for a in overfitting(_rows(VAL), early_stop=3).advice)


def test_no_flag_while_validation_improves_too_early_or_when_training_loss_rises_too():
    assert overfitting(_rows([0.9, 0.6, 0.5, 0.45, 0.44, 0.43])) is None  # still improving
    assert overfitting(_rows(VAL[:5])) is None  # one epoch above the lowest is no trend yet
    assert overfitting(_rows([0.9, 0.6, 0.5, 0.45, 0.455, 0.46])) is None  # within 5% of the lowest: noise
    diverging = [0.5, 0.4, 0.3, 0.25, 0.4, 0.6]  # training loss rising too: too high an LR, not overfitting
    assert overfitting(_rows([0.9, 0.6, 0.5, 0.45, 0.6, 0.8], train=diverging)) is None
    assert overfitting([dict(epoch=e, train_loss=1.0, val_loss=float("nan")) for e in range(6)]) is None
