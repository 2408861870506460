"""Look inside a model and take it out of the lab.

- ``layer_table(model, input_shape)``: every module call with shapes, parameters (shared ones once), multiply-adds
  and receptive field / jump / start; ``layer_totals``.
- ``grad_cam(model, x, target, layer)`` / ``explain``: Grad-CAM at the layer's resolution; ``classic_cam`` for
  global-average-pool + linear heads; ``overlay(image, cam)`` for display.
- ``class_visual(model, target, steps, ...)``: backquery by gradient ascent; ``invert_mlp``: the exact inverse of a
  sigmoid MLP.
- ``export_model`` / ``export_run``: state_dict + Python file, torch.export (.pt2), ONNX, each checked.
- ``load_run(run_dir)``: a run's model with its validation examples (``InspectTarget``).
"""
from core.inspect.cam import (Explanation, cam_layers, classic_cam, default_cam_layer, explain, gap_linear_head,
                              grad_cam, overlay, spectrogram_image)
from core.inspect.export import FORMATS, ExportResult, ExportUnavailable, export_model, missing_packages
from core.inspect.field import clipped_box
from core.inspect.layers import LayerRow, LayerTotals, layer_table, layer_totals
from core.inspect.source import model_source
from core.inspect.target import InspectTarget, example_batch, export_run, from_bundle, load_run
from core.inspect.visual import ClassVisual, MLPInverse, class_visual, invert_mlp

__all__ = ["LayerRow", "LayerTotals", "layer_table", "layer_totals", "clipped_box",
           "Explanation", "grad_cam", "explain", "cam_layers", "default_cam_layer", "classic_cam",
           "gap_linear_head", "overlay", "spectrogram_image",
           "ClassVisual", "class_visual", "MLPInverse", "invert_mlp",
           "FORMATS", "ExportResult", "ExportUnavailable", "export_model", "export_run", "missing_packages",
           "model_source", "InspectTarget", "load_run", "from_bundle", "example_batch"]
