"""``from_fields(cls, d)``: a config dataclass from a dict, refusing keys that are not its fields (one rule for every
config's ``from_dict``: a typo in a saved config.json or a CLI option is named, never silently dropped).

>>> from core.train import TrainConfig
>>> from_fields(TrainConfig, {"data": "builtin:digits", "epoch": 3})
Traceback (most recent call last):
ValueError: unknown TrainConfig field(s): epoch
"""
from __future__ import annotations

from dataclasses import fields


def unknown_fields(cls, d: dict) -> list[str]:
    """The keys of ``d`` that are not fields of the dataclass ``cls``, sorted."""
    return sorted(set(d) - {f.name for f in fields(cls)})


def from_fields(cls, d: dict, what: str | None = None, list_known: bool = False):
    """``cls(**d)``; ValueError naming the unknown keys ("unknown <what>(s): ...", ``what`` by default
    "<class name> field"; with ``list_known`` the known ones follow) when there are any."""
    unknown = unknown_fields(cls, d)
    if unknown:
        known = f"; known: {', '.join(sorted(f.name for f in fields(cls)))}" if list_known else ""
        raise ValueError(f"unknown {what or cls.__name__ + ' field'}(s): {', '.join(unknown)}{known}")
    return cls(**d)
