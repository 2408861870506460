"""The Train page's 'Start small and get bigger' option: a schedule of input sizes by epoch (core.train.resize)."""
from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st


@dataclass
class ResizeChoice:
    size_schedule: list = field(default_factory=list)  # TrainConfig.size_schedule: [[first_epoch, size], ...]


def parse_schedule(text: str) -> list:
    """'0:16, 2:24, 4:32' -> [[0, 16], [2, 24], [4, 32]]; a part that is not 'epoch:size' is kept as given, so the
    rule in core names it."""
    out = []
    for part in text.split(","):
        if not part.strip():
            continue
        epoch, _, size = part.partition(":")
        try:
            out.append([int(epoch), int(size)])
        except ValueError:
            out.append([part.strip()])
    return out


def resize_ui(key: str, kind: str, input_shape, epochs: int) -> ResizeChoice:
    """A checkbox, then 'epoch:size' pairs pre-filled with half, three quarters and the full size. The page shows
    the rule's problems with the other launch checks (core.train.resize; ``final_size_problems`` for the size)."""
    if kind != "image" or not input_shape:
        return ResizeChoice()
    full = int(input_shape[-1])
    if not st.checkbox("Start small and get bigger (progressive resizing)", key=f"{key}-resize",
                       help="train the first epochs on smaller images (faster), then continue the same model at "
                            "larger sizes, ending at the data's size; validation always uses the full size"):
        return ResizeChoice()
    third = max(1, epochs // 3)
    default = f"0:{max(4, full // 2)}, {third}:{max(4, 3 * full // 4)}, {2 * third}:{full}" if epochs >= 3 \
        else f"0:{max(4, full // 2)}, 1:{full}"
    text = st.text_input(f"Input sizes by epoch (first epoch:size, ...; ends at the data's {full} px)", default,
                         key=f"{key}-resize-text")
    return ResizeChoice(size_schedule=parse_schedule(text))
