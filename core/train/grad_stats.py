"""The ``GradientStats`` callback: each layer's gradient norm and update/weight ratio every ``every`` steps, the
clipped fraction when gradient clipping is on, and the vanishing / exploding flags (core.debug.grads).

Records stay on the device and are fetched in one transfer every ``fetch_every`` records (no per-step sync); only
pending records and each layer's previous / first norm are kept, so memory is bounded. Published to the other
callbacks as ``loop.grad_rows`` = [(step, [(layer, grad_norm, weight_norm, update_ratio), ...]), ...] with the
``after_grads`` event; ``loop.grad_flags`` holds the flags raised so far.
"""
from __future__ import annotations

import math

import torch

from core.debug.grads import (DEFAULT_EVERY, GradFlag, exploding_flag, grads_by_layer, layer_norms, param_layers,
                              update_ratio, vanishing_flag, weights_by_layer)
from core.train.callbacks import Callback


class GradientStats(Callback):
    """Per-layer gradient norms and update/weight ratios every ``every`` steps (see the module docstring)."""

    order = 5  # before MetricsRecorder (10): its notes are written when the run ends

    def __init__(self, every: int = DEFAULT_EVERY, fetch_every: int = 10):
        self.every, self.fetch_every = max(1, every), max(1, fetch_every)
        self.previous: dict[str, float] = {}  # layer -> its last recorded finite norm
        self.first: dict[str, float] = {}  # layer -> its first recorded norm
        self.flags: list[GradFlag] = []

    def before_fit(self, loop):
        self.layers = param_layers(loop.model)
        self.names = [n for n, _ in self.layers]
        self._pending, self._record = [], None
        self._clipped = torch.zeros((), device=loop.device)
        self._clip_seen = 0
        self._broken = None  # (step, grad norms, weight norms) when the loss first went non-finite (CPU)
        loop.grad_rows, loop.grad_flags = [], self.flags

    def after_backward(self, loop):
        """Gradients are complete (and not yet clipped): norms now, and the weights before the optimizer moves them."""
        if loop.check_every == 1 and self._broken is None and not torch.isfinite(loop.loss.detach()):
            self._broken = self._state(loop)  # before the optimizer spreads the NaN into every layer
        if loop.step % self.every:
            return
        grads = grads_by_layer(self.layers)
        has = [bool(g) for g in grads]
        weights = weights_by_layer(self.layers)
        self._record = (loop.step, has, layer_norms(grads), torch.cat([w.reshape(-1) for ws in weights for w in ws])
                        .float().clone())

    def after_batch(self, loop):
        clip = loop.config.grad_clip
        total = getattr(loop, "grad_total_norm", None)
        if clip > 0 and total is not None:
            self._clipped += (total > clip).float()  # on the device: counted, fetched with the records
            self._clip_seen += 1
        if self._record is None:
            return
        step, has, gnorms, before = self._record
        self._record = None
        weights = weights_by_layer(self.layers)
        after = torch.cat([w.reshape(-1) for ws in weights for w in ws]).float()
        lengths = [sum(w.numel() for w in ws) for ws in weights]
        moved = list(torch.split(after - before, lengths))
        old = list(torch.split(before, lengths))
        wnorms, unorms = layer_norms([[t] for t in old]), layer_norms([[t] for t in moved])
        self._pending.append((step, has, torch.stack([gnorms, wnorms, unorms], 1)))  # (layers, 3)
        if len(self._pending) >= self.fetch_every:
            self.fetch(loop)

    def fetch(self, loop):
        """Fetch pending records in one transfer, publish them (``after_grads``) and update the flags."""
        if not self._pending:
            return
        values = torch.cat([v for _, _, v in self._pending] + [self._clipped.reshape(1, 1).expand(1, 3)]).cpu()
        values = values.tolist()
        clipped = values.pop()[0]
        loop.grad_rows, i = [], 0
        for step, has, _ in self._pending:
            rows = []
            for k, name in enumerate(self.names):
                g, w, u = values[i + k]
                rows.append((name, g if has[k] else None, w, update_ratio(u, w)))
            i += len(self.names)
            loop.grad_rows.append((step, rows))
            self._flag(loop, step, [r[1] for r in rows])
        self._pending = []
        loop.grad_clipped = (clipped / self._clip_seen) if self._clip_seen else None
        loop("after_grads")

    def _flag(self, loop, step: int, norms: list) -> None:
        kinds = {f.kind for f in self.flags}
        new = [] if "exploding" in kinds else [exploding_flag(step, self.names, norms, self.previous, self.first)]
        new += [] if "vanishing" in kinds else [vanishing_flag(step, self.names, norms)]
        for flag in filter(None, new):
            self.flags.append(flag)
            loop.notices.append(flag.message)
        for name, value in zip(self.names, norms):
            if value is not None and math.isfinite(value):
                self.previous[name] = value
                self.first.setdefault(name, value)

    def after_epoch(self, loop):
        self.fetch(loop)

    def after_fit(self, loop):
        self._record = None
        if loop.status == "failed":
            self._failed(loop)
        self.fetch(loop)

    def _failed(self, loop):
        """The run broke (a non-finite loss): record the gradients as they are now, so the flag names the first
        layer that went non-finite even between two regular records."""
        if any(f.kind == "exploding" for f in self.flags):
            return
        step, has, values = self._broken or self._state(loop)
        self._pending = [p for p in self._pending if p[0] < step]
        self.fetch(loop)
        bad = [n for n, (_, w) in zip(self.names, values) if not math.isfinite(w)]
        if bad:  # weights went non-finite first: name that layer (its gradients then poison every other layer)
            flag = GradFlag("exploding", bad[0], step,
                            f"exploding gradients: layer {bad[0]} is the first to blow up (its weights became "
                            f"non-finite before step {step}). Try a lower learning rate (the LR finder helps), "
                            "gradient clipping (e.g. 1.0), or normalisation layers.")
            self.flags.append(flag)
            loop.notices.append(flag.message)
        rows = torch.tensor([[g if h else math.nan, w, math.nan] for h, (g, w) in zip(has, values)],
                            device=loop.device)
        self._pending.append((step, has, rows))

    def _state(self, loop) -> tuple[int, list[bool], list[list[float]]]:
        """(step, which layers have a gradient, [(grad norm, weight norm)] per layer) as they are now."""
        grads = grads_by_layer(self.layers)
        values = torch.stack([layer_norms(grads), layer_norms(weights_by_layer(self.layers))], 1).cpu().tolist()
        return loop.step, [bool(g) for g in grads], values


class DeviceMonitor(Callback):
    """GPU memory used / total and utilisation into the run store as scalars every few seconds (GPU runs only), so
    the live view can draw them over time (core.debug.device)."""

    order = 11
    main_only = True

    def __init__(self, run):
        self.run = run

    def before_fit(self, loop):
        from core.debug.device import DeviceSampler

        self.sampler = DeviceSampler(loop.device)

    def after_batch(self, loop):
        values = self.sampler.sample()
        if values:
            self.run.log_scalars(loop.step, values)
