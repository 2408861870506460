"""``HookSpy``: counts the calls of every forward (pre-)hook registered while it is installed, through torch's public
``register_forward_hook`` / ``register_forward_pre_hook`` only, so a test can check that no hook was left behind:
after the code under test, a forward pass must call none of them."""
from __future__ import annotations

import torch
from torch import nn


class HookSpy:
    """``spy = HookSpy(monkeypatch)``; run the code; ``spy.calls_in(model, x)`` is 0 when every hook was removed."""

    def __init__(self, monkeypatch):
        self.calls, self.registered = 0, 0
        for name in ("register_forward_hook", "register_forward_pre_hook"):
            monkeypatch.setattr(nn.Module, name, self._counting(getattr(nn.Module, name)))

    def _counting(self, register):
        spy = self

        def wrapper(module, hook, *args, **kwargs):
            def counted(*a, **k):
                spy.calls += 1
                return hook(*a, **k)

            spy.registered += 1
            return register(module, counted, *args, **kwargs)

        return wrapper

    def calls_in(self, model: nn.Module, *inputs) -> int:
        """How many of the spied hooks a forward pass of ``model`` on ``inputs`` calls (0: none left behind)."""
        before = self.calls
        with torch.no_grad():
            model(*inputs)
        return self.calls - before
