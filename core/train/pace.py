"""How far a run is and how long it still needs: steps done of the whole run, seconds per step, time left.

The pace is measured from the first recorded step to the last, so it leaves out the start-up (loading data,
building the model) and includes the validation passes between epochs: the time left is wall-clock time.

>>> p = pace(steps_done=100, total_steps=400, first=(0, 10.0), last=(99, 35.0))
>>> round(p.fraction, 2), round(p.seconds_per_step, 3), round(p.seconds_left)
(0.25, 0.253, 76)
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Pace:
    steps_done: int  # optimizer steps taken so far
    total_steps: int | None  # planned steps in all (None when the trainer did not announce a plan)
    seconds_per_step: float | None  # wall-clock seconds per step so far (None before two steps were recorded)

    @property
    def fraction(self) -> float:
        """Share of the whole run done (0..1); 0 when the plan is unknown."""
        return min(1.0, self.steps_done / self.total_steps) if self.total_steps else 0.0

    @property
    def seconds_left(self) -> float | None:
        """Estimated wall-clock seconds to the end of the run, or None when it cannot be estimated yet."""
        if self.seconds_per_step is None or not self.total_steps:
            return None
        return max(0, self.total_steps - self.steps_done) * self.seconds_per_step


def pace(steps_done: int, total_steps: int | None, first: tuple[int, float] | None,
         last: tuple[int, float] | None) -> Pace:
    """The pace from the ``(step, time)`` of the first and the last recorded step (times from ``time.time()``)."""
    per_step = None
    if first is not None and last is not None and last[0] > first[0]:
        per_step = (last[1] - first[1]) / (last[0] - first[0])
    return Pace(steps_done, total_steps, per_step)


def duration_text(seconds: float) -> str:
    """'45 s', '3 min 20 s', '2 h 05 min': rounded for people, not for logs.

    >>> duration_text(44.6), duration_text(200), duration_text(7500)
    ('45 s', '3 min 20 s', '2 h 05 min')
    """
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s" if seconds % 60 else f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def caching_text(done: int, total: int, elapsed: float) -> str:
    """The feature-caching phase of a run in words, with the time left at the pace so far.

    >>> caching_text(120, 480, 10.0)
    'caching features: 120 of 480 images through the frozen backbone · about 30 s left'
    """
    text = f"caching features: {done} of {total} images through the frozen backbone"
    if 0 < done < total and elapsed > 0:
        text += f" · about {duration_text(elapsed / done * (total - done))} left"
    return text
