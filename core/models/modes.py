"""``eval_mode(model)``: eval mode for a while, then every submodule's own train flag back as it was.

``model.train(was)`` after ``model.eval()`` is not a restore: it sets every submodule to the top module's flag, so a
batch-norm that was frozen (eval) inside a training model would come back training. This records each module's flag.

>>> with eval_mode(net):                                                   # doctest: +SKIP
...     logits = net(x)
"""
from __future__ import annotations

from contextlib import contextmanager

from torch import nn


@contextmanager
def eval_mode(model: nn.Module):
    """Put ``model`` in eval mode inside the ``with``; restore each submodule's own ``training`` flag afterwards."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training
