"""Optimizers with differential learning rates by layer group, LR schedulers, and backbone freezing."""
from __future__ import annotations

import torch
from torch import nn

from core.models import group_parameters, layer_groups, unwrap

_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def group_lrs(lr: float, n_groups: int, lr_decay: float = 1.0) -> list[float]:
    """Learning rate per layer group, input side first: the head gets ``lr``, each earlier group ``lr_decay`` less.

    >>> group_lrs(0.09, 3, 3.0)   # earlier = lr/9, last block = lr/3, head = lr
    [0.01, 0.03, 0.09]
    """
    return [lr / lr_decay ** (n_groups - 1 - i) for i in range(n_groups)]


def make_optimizer(model: nn.Module, config) -> torch.optim.Optimizer:
    """adam / adamw / sgd (with momentum) over the model's layer groups, each with its own LR (``config.lr_decay``)."""
    groups = [g for g in group_parameters(model)]
    lrs = group_lrs(config.lr, len(groups), config.lr_decay)
    param_groups = [{"params": g, "lr": lr, "group": i} for i, (g, lr) in enumerate(zip(groups, lrs)) if g]
    wd = config.weight_decay
    if config.optimizer == "adam":
        return torch.optim.Adam(param_groups, lr=config.lr, weight_decay=wd)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(param_groups, lr=config.lr, weight_decay=wd)
    if config.optimizer == "sgd":
        return torch.optim.SGD(param_groups, lr=config.lr, momentum=config.momentum, weight_decay=wd)
    raise ValueError(f"unknown optimizer {config.optimizer!r}; use adam, adamw or sgd")


def make_scheduler(optimizer, config, total_steps: int):
    """The LR schedule and whether it steps per batch ('batch') or per epoch ('epoch'); (None, None) for 'none'.

    one-cycle and cosine step every batch over ``total_steps``; step drops the LR by ``gamma`` every
    ``step_size`` epochs.
    """
    if config.scheduler == "none":
        return None, None
    if config.scheduler == "one-cycle":
        if total_steps < 3:  # too short to warm up and anneal: keep the LR constant
            return None, None
        max_lr = [g["lr"] for g in optimizer.param_groups]
        warmup = max(2, round(0.25 * total_steps))  # a quarter of the run (torch needs >= 2 steps per phase)
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=total_steps,
                                                   pct_start=warmup / total_steps), "batch"
    if config.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps)), "batch"
    if config.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.step_size, gamma=config.gamma), "epoch"
    raise ValueError(f"unknown scheduler {config.scheduler!r}; use none, step, cosine or one-cycle")


def backbone_modules(model: nn.Module) -> list[nn.Module]:
    """Every module outside the head (the last layer group)."""
    return [m for group in layer_groups(model)[:-1] for m in group]


def frozen_count(model: nn.Module, train_bn: bool = True) -> int:
    """The parameters ``set_frozen(model, True, train_bn)`` would freeze, counted without changing the model."""
    head = {id(p) for m in layer_groups(model)[-1] for p in m.parameters()}
    seen, n = set(), 0
    for m in backbone_modules(model):
        for sub in m.modules():
            if train_bn and isinstance(sub, _BN):
                continue
            for p in sub.parameters(recurse=False):
                if id(p) not in head and id(p) not in seen:
                    seen.add(id(p))
                    n += p.numel()
    return n


def set_frozen(model: nn.Module, frozen: bool, train_bn: bool = True) -> int:
    """Freeze (or unfreeze) the backbone; with ``train_bn`` its batch-norm layers stay trainable.

    Returns the number of parameters that are frozen now. Call ``bn_eval_if_frozen`` after every ``model.train()``
    so frozen batch-norm layers also keep their running statistics.
    """
    head = {id(p) for m in layer_groups(model)[-1] for p in m.parameters()}
    n_frozen = 0
    for m in backbone_modules(model):
        for sub in m.modules():
            keep = not frozen or (train_bn and isinstance(sub, _BN))
            for p in sub.parameters(recurse=False):
                if id(p) in head:
                    continue
                p.requires_grad_(keep)
                n_frozen += 0 if keep else p.numel()
    return n_frozen


def bn_eval_if_frozen(model: nn.Module) -> None:
    """Put batch-norm layers whose parameters are frozen into eval mode (running statistics stay as they are)."""
    for m in unwrap(model).modules():
        if isinstance(m, _BN) and m.weight is not None and not m.weight.requires_grad:
            m.eval()
