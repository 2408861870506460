"""Fit an image pipeline to the size a model is trained on, saying what changed and why.

A pipeline built on the Augment page for a 512 px photo (``RandomResizedCrop(224)``) would hand a model trained on
32 px digits 224 px crops while validation stays at 32 px: slower steps, more memory, and a train/val mismatch.
``fit_to_input`` adapts such steps to the data's input size and returns one plain-English line per change, so the
Train page can show them before launch and the worker records the same lines as notices.

A ``Normalize`` step is taken out for the same reason: the lab's models take pixels in [0, 1] (the pretrained ones
normalise inside), and a pipeline that normalised only the training images would leave validation, predictions,
Grad-CAM and attacks on another scale than the one the model learned.

>>> from core.augment import Pipeline, Step
>>> pipe, notes = fit_to_input(Pipeline("image", [Step("RandomResizedCrop", {"size": 224})]), (1, 32, 32))
>>> pipe.steps[0].params["size"], notes[0].split(":")[0]
(32, 'step 1 RandomResizedCrop')
"""
from __future__ import annotations

from core.augment.pipeline import Pipeline, Step

SIZED = ("RandomResizedCrop", "RandomCrop", "Resize")  # steps whose output is size x size


def fit_to_input(pipeline: Pipeline, input_shape) -> tuple[Pipeline, list[str]]:
    """``pipeline`` (image kind) adapted so its output has the spatial size of ``input_shape`` (C, H, W).

    - a crop or resize to another size is set to the input size;
    - ``RandomRotation(expand=True)`` (which grows the canvas) gets ``expand=False``;
    - when padding still leaves the output larger than the input, a final ``Resize`` to the input size is added;
    - a ``Normalize`` step is removed (see the module's docstring).

    Returns the adapted, validated pipeline and one line per change (empty when nothing changed). Other kinds of
    pipeline, and non-square inputs (the image loader always makes square ones), are returned unchanged.
    """
    pipeline = pipeline.validated()
    if pipeline.kind != "image":
        return pipeline, []
    pipeline, notes = _without_normalize(pipeline)
    if len(input_shape) != 3 or input_shape[-1] != input_shape[-2]:
        return pipeline, notes
    side, steps, out = int(input_shape[-1]), [], int(input_shape[-1])
    for i, step in enumerate(pipeline.steps):
        params = dict(step.params)
        where = f"step {i + 1} {step.name}"
        if step.name in SIZED:
            if params["size"] != side:
                notes.append(f"{where}: size {params['size']} px set to {side} px, the size this model is trained "
                             f"and validated on for this data")
                params["size"] = side
            out = side
        elif step.name == "RandomRotation" and params.get("expand"):
            notes.append(f"{where}: expand turned off (it grows the image beyond the {side} px the model takes)")
            params["expand"] = False
        elif step.name == "Pad":
            out += 2 * int(params["padding"])
        steps.append(Step(step.name, params, step.p))
    if out != side:
        steps.append(Step("Resize", {"size": side}, 1.0))
        notes.append(f"a final Resize to {side} px was added: padding makes the images {out} px, larger than the "
                     f"{side} px the model takes")
    return Pipeline("image", steps, pipeline.sample_rate).validated(), notes


def _without_normalize(pipeline: Pipeline) -> tuple[Pipeline, list[str]]:
    """``pipeline`` without its Normalize steps, and one line per step removed."""
    kept = [step for step in pipeline.steps if step.name != "Normalize"]
    notes = [f"step {i + 1} Normalize removed: the model is trained, validated and used on pixels in [0, 1] (a "
             f"pretrained model normalises inside), and normalising only the training images would put them on "
             f"another scale than everything else" for i, step in enumerate(pipeline.steps) if step.name == "Normalize"]
    return (Pipeline("image", kept, pipeline.sample_rate).validated() if notes else pipeline), notes
