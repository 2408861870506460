"""The rules of a size schedule (core.train.resize: start small and get bigger), with no dependency on the data or
the loop, so that TrainConfig can check a schedule without importing the training code.

>>> size_for_epoch([[0, 16], [2, 24], [4, 32]], 3)
24
"""
from __future__ import annotations


def size_for_epoch(schedule, epoch: int) -> int:
    """The input size of ``epoch`` under ``schedule`` (``[[first_epoch, size], ...]``, sorted by epoch)."""
    size = int(schedule[0][1])
    for first, s in schedule:
        if epoch >= int(first):
            size = int(s)
    return size


def schedule_problems(schedule, epochs: int, final_size: int | None = None, kind: str | None = None) -> list[str]:
    """Why ``schedule`` cannot be used (empty when it can): pairs of whole numbers, starting at epoch 0, epochs and
    sizes both increasing, every change inside the run, ending at the data's size (when ``final_size`` is known)."""
    if not schedule:
        return []
    if kind not in (None, "image"):
        return [f"progressive resizing changes image sizes; {kind} data has none (leave the size schedule empty)"]
    try:
        pairs = [(int(e), int(s)) for e, s in schedule]
    except (TypeError, ValueError):
        return ["the size schedule must be pairs of whole numbers [first epoch, size], e.g. [[0, 16], [2, 32]]"]
    out = []
    epochs_at, sizes = [e for e, _ in pairs], [s for _, s in pairs]
    if epochs_at[0] != 0:
        out.append("the size schedule must start at epoch 0")
    if any(b <= a for a, b in zip(epochs_at, epochs_at[1:])) or any(b <= a for a, b in zip(sizes, sizes[1:])):
        out.append("in the size schedule both the epochs and the sizes must increase (start small, get bigger)")
    if epochs_at[-1] >= epochs:
        out.append(f"the last size change (epoch {epochs_at[-1]}) must come before the run ends ({epochs} epochs)")
    if min(sizes) < 4:
        out.append("sizes in the size schedule must be at least 4 pixels")
    return out + final_size_problems(pairs, final_size)


def final_size_problems(schedule, final_size: int | None) -> list[str]:
    """The part of the rule that needs the data: the schedule must end at the data's image size (``final_size``;
    None = not known yet, nothing to say). The Train page adds it to the launch check, so the form refuses what the
    worker would."""
    if not schedule or final_size is None:
        return []
    try:
        last = int(schedule[-1][1])
    except (TypeError, ValueError, IndexError):
        return []  # malformed: schedule_problems says so
    if last == int(final_size):
        return []
    return [f"the size schedule must end at the data's image size ({final_size} px), so the model finishes on the "
            f"images it will be used on; it ends at {last} px"]
