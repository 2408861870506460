"""core.augment.preview.image_preview: the Augment page's image draws in one call, replayable by seed."""
from __future__ import annotations

import numpy as np
import torch

from core.augment import Pipeline, Step
from core.augment.preview import image_preview


def test_draws_follow_their_seeds_and_the_strip_has_each_step():
    x = torch.rand(3, 24, 24, generator=torch.Generator().manual_seed(0))
    pipe = Pipeline("image", [Step("RandomHorizontalFlip", {}, 0.5), Step("RandomRotation", {"degrees": 30}, 1.0)])
    p = image_preview(pipe, x, 5, seed=7)
    assert len(p.draws) == len(p.images) == 5 and len(p.strip) == 3 and len(p.strip_records) == 2
    for i, draw in enumerate(p.draws):  # draw i is the pipeline's own draw with seed 7 + i
        torch.testing.assert_close(draw.output, pipe.sample(x, seed=7 + i).output)
    flipped = torch.flip(x, dims=[-1]) if p.strip_records[0].applied else x  # the strip's first step, by hand
    assert np.array_equal(np.asarray(p.strip[1]), np.asarray(image_preview(Pipeline("image", []), flipped, 1, 0).strip[0]))
    assert image_preview(pipe, x, 5, seed=7).draws[3].records == p.draws[3].records  # same settings, same draws
