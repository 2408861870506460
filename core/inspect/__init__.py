"""Look inside a model: the layer table (shapes, parameters, receptive field), Grad-CAM and classic CAM, class
visualisation (backquery) and the exact inverse of a sigmoid MLP."""
from core.inspect.cam import (Explanation, cam_layers, classic_cam, default_cam_layer, explain, gap_linear_head,
                              grad_cam, overlay, spectrogram_image)
from core.inspect.layers import LayerRow, LayerTotals, layer_table, layer_totals
from core.inspect.visual import ClassVisual, MLPInverse, class_visual, invert_mlp

__all__ = ["LayerRow", "LayerTotals", "layer_table", "layer_totals", "Explanation", "grad_cam", "explain",
           "cam_layers", "default_cam_layer", "classic_cam", "gap_linear_head", "overlay", "spectrogram_image",
           "ClassVisual", "class_visual", "MLPInverse", "invert_mlp"]
