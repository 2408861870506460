"""Parameter specs: what each augmentation accepts, from which the page draws its widgets and which validates input.

A ``ParamSpec`` says a parameter's name, type, allowed range, default and a one-line help. ``validate_params`` checks a
user's dict against the specs and raises ``AugmentError`` with a message naming the step, the parameter and the range.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


class AugmentError(ValueError):
    """An augmentation pipeline or parameter that cannot be used; the message says which and why."""


# type -> what a value of that type looks like
#   float / int: one number in [low, high]          bool: True/False
#   choice: one of ``choices``                       choices: a non-empty list drawn from ``choices``
#   range: (lo, hi) with low <= lo <= hi <= high    xy: two numbers, each in [low, high] (e.g. max translate x, y)
#   floats: 1 or 3 numbers in [low, high] (per-channel values such as Normalize's mean)
TYPES = ("float", "int", "bool", "choice", "choices", "range", "xy", "floats")


@dataclass(frozen=True)
class ParamSpec:
    name: str  # keyword passed to the transform's constructor
    type: str  # one of TYPES
    default: Any  # value used when the user leaves it alone; must itself be valid
    low: float | None = None  # smallest allowed number (numeric types)
    high: float | None = None  # largest allowed number (numeric types)
    help: str = ""  # one line shown next to the widget
    choices: tuple = ()  # allowed values for choice / choices
    odd: bool = False  # int must be odd (kernel sizes)
    strictly_positive: bool = False  # numbers must be > 0 (std, sigma), not just >= low

    def check(self, value: Any, where: str) -> Any:
        """Return ``value`` normalised (tuples for pairs, int for ints), or raise ``AugmentError``."""
        label = f"{where}.{self.name}"
        if self.type == "bool":
            if not isinstance(value, bool):
                raise AugmentError(f"{label} must be true or false, got {value!r}")
            return value
        if self.type == "choice":
            if value not in self.choices:
                raise AugmentError(f"{label} must be one of {list(self.choices)}, got {value!r}")
            return value
        if self.type == "choices":
            values = list(value) if isinstance(value, (list, tuple)) else [value]
            bad = [v for v in values if v not in self.choices]
            if not values or bad:
                raise AugmentError(f"{label} must be a non-empty list drawn from {list(self.choices)}, got {value!r}")
            return tuple(values)
        if self.type in ("float", "int"):
            return self._number(value, label)
        return self._numbers(value, label)

    def _number(self, value: Any, label: str) -> float | int:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise AugmentError(f"{label} must be a number, got {value!r}")
        if value != value:  # NaN
            raise AugmentError(f"{label} must be a number, got NaN")
        if self.type == "int":
            if float(value) != int(value):
                raise AugmentError(f"{label} must be a whole number, got {value!r}")
            value = int(value)
            if self.odd and value % 2 == 0:
                raise AugmentError(f"{label} must be odd, got {value}")
        else:
            value = float(value)
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise AugmentError(f"{label} = {value} is outside the allowed range [{self.low}, {self.high}]")
        if self.strictly_positive and value <= 0:
            raise AugmentError(f"{label} must be greater than 0, got {value}")
        return value

    def _numbers(self, value: Any, label: str) -> tuple:
        if not isinstance(value, (list, tuple)):
            raise AugmentError(f"{label} must be a list of numbers, got {value!r}")
        sizes = (1, 3) if self.type == "floats" else (2,)
        if len(value) not in sizes:
            raise AugmentError(f"{label} must have {' or '.join(map(str, sizes))} values, got {len(value)}")
        one = ParamSpec(self.name, "float", None, self.low, self.high, strictly_positive=self.strictly_positive)
        values = tuple(one._number(v, label) for v in value)
        if self.type == "range" and values[0] > values[1]:
            raise AugmentError(f"{label} must be (low, high) with low <= high, got {list(values)}")
        return values

    def to_dict(self) -> dict:
        """JSON-serialisable description (for documentation and for the page)."""
        return {"name": self.name, "type": self.type, "default": self.default, "low": self.low, "high": self.high,
                "help": self.help, "choices": list(self.choices)}


@dataclass(frozen=True)
class OpSpec:
    """One registry entry: a transform the user can add to a pipeline."""

    name: str  # registry key, also the class name in exported code
    help: str  # one line: what it does
    params: tuple[ParamSpec, ...] = ()  # user-settable parameters
    build: Callable[..., Any] | None = None  # (validated params, probability) -> callable transform object
    own_p: bool = False  # the transform has its own probability argument: the step probability is passed to it
    default_p: float = 1.0  # step probability suggested when the step is added
    extra: dict = field(default_factory=dict)  # per-kind details (e.g. the torchvision class to export)

    def defaults(self) -> dict:
        """The default value of every parameter."""
        return {p.name: (list(p.default) if isinstance(p.default, tuple) else p.default) for p in self.params}


def summary_line(cls: type) -> str:
    """The first line of a class's docstring as plain text for menus: ``name`` markup becomes name.

    >>> class Op:
    ...     \"\"\"Swap ``count`` pairs.\"\"\"
    >>> summary_line(Op)
    'Swap count pairs.'
    """
    return cls.__doc__.strip().splitlines()[0].replace("``", "")


def validate_params(op: OpSpec, params: dict) -> dict:
    """Check ``params`` against ``op``'s specs; missing ones take their default, unknown names are refused."""
    known = {p.name: p for p in op.params}
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise AugmentError(f"{op.name} has no parameter {', '.join(unknown)} (it takes: {', '.join(known) or 'none'})")
    out = {}
    for name, spec in known.items():
        out[name] = spec.check(params.get(name, spec.default), op.name)
    return out


def check_probability(p: Any, where: str) -> float:
    """A step probability: a number in [0, 1]."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise AugmentError(f"{where}: probability must be a number in [0, 1], got {p!r}")
    return float(p)
