"""What the Augment page shows of an image pipeline, computed in one call: ``image_preview(pipeline, x, n, seed)``.

>>> p = image_preview(Pipeline("image", [Step("RandomHorizontalFlip", {}, 0.5)]), torch.rand(3, 32, 32), 4, 0)
>>> len(p.images), len(p.strip)
(4, 2)
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from core.augment.image import to_image
from core.augment.pipeline import Draw, Pipeline, Step  # noqa: F401 - Step for the example above


@dataclass
class ImagePreview:
    """``n`` draws of a pipeline on one image, as images, and the first draw step by step."""

    draws: list[Draw]  # each draw: its output and what was sampled (records)
    images: list  # each draw's output as a PIL image (a final Normalize undone)
    strip: list  # the input, then the first draw after each step, as PIL images
    strip_records: list  # the first draw's records, one per step (name, applied, params)


def image_preview(pipeline: Pipeline, x: torch.Tensor, n: int, seed: int) -> ImagePreview:
    """Draw ``pipeline`` ``n`` times on ``x`` (C, H, W), draw i from seed ``seed + i`` (the same settings give the same
    draws). Raises what the pipeline raises on an input it cannot take (RuntimeError, ValueError, TypeError)."""
    draws = [pipeline.sample(x, seed=seed + i, keep_stages=i == 0) for i in range(n)]
    strip = [to_image(x)] + [to_image(s, pipeline.steps[:i + 1]) for i, s in enumerate(draws[0].stages)] if draws \
        else [to_image(x)]
    return ImagePreview(draws, [to_image(d.output, pipeline.steps) for d in draws], strip,
                        list(draws[0].records) if draws else [])
