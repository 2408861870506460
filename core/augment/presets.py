"""Default pipelines the trainer uses when the user picked none (``preset``), chosen to be safe for the data.

Why these: flips change the meaning of digits, letters and other oriented symbols (a mirrored 2 is not a 2), so a
horizontal flip is added only when the data source is known to be flip-safe; without a source the image preset has no
flip. Crops are a small affine zoom/shift rather than RandomResizedCrop, because the Dataset has already resized the
image and the model expects that size. Text gets no default: deleting or swapping words can flip a label
("not good" -> "good"), so text augmentation is something the user opts into on the Augment page.
"""
from __future__ import annotations

from core.augment.image import flip_safe
from core.augment.pipeline import Pipeline, Step

def preset(kind: str, source: str | None = None) -> Pipeline | None:
    """The default augmentation for ``kind`` ('image'|'audio'|'spectrogram'|'text'), or None when none is safe.

    ``source`` (a ``core.data.load`` source string, optional) refines the choice: e.g. flips only for flip-safe data.

    >>> preset("image", "builtin:digits").steps[0].name
    'RandomAffine'
    """
    if kind == "image":
        return _image_preset(source)
    if kind == "audio":
        return Pipeline("audio", [Step("Gain", {"gain_db": [-6.0, 6.0]}, 0.5),
                                  Step("TimeShift", {"max_fraction": 0.1}, 0.5),
                                  Step("AddNoise", {"snr_db": [20.0, 40.0]}, 0.3)]).validated()
    if kind == "spectrogram":
        return Pipeline("spectrogram", [Step("FrequencyMasking", {"max_width": 8, "n_masks": 1}, 1.0),
                                        Step("TimeMasking", {"max_width": 10, "n_masks": 1}, 1.0)]).validated()
    return None


def _image_preset(source: str | None) -> Pipeline:
    steps = [Step("RandomAffine", {"degrees": 10.0, "translate": [0.1, 0.1], "scale": [0.9, 1.1]}, 0.8),
             Step("ColorJitter", {"brightness": 0.2, "contrast": 0.2, "saturation": 0.2, "hue": 0.0}, 0.5)]
    if flip_safe(source):
        steps.insert(0, Step("RandomHorizontalFlip", {}, 0.5))
    return Pipeline("image", steps).validated()
