"""Look inside a model: the layer table (shapes, parameters, receptive field), Grad-CAM and classic CAM."""
from core.inspect.cam import (Explanation, cam_layers, classic_cam, default_cam_layer, explain, gap_linear_head,
                              grad_cam, overlay, spectrogram_image)
from core.inspect.layers import LayerRow, LayerTotals, layer_table, layer_totals

__all__ = ["LayerRow", "LayerTotals", "layer_table", "layer_totals", "Explanation", "grad_cam", "explain",
           "cam_layers", "default_cam_layer", "classic_cam", "gap_linear_head", "overlay", "spectrogram_image"]
