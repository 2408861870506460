"""Downloads of a trained run's model: the plain state_dict and the Python file that rebuilds it (the Train page
adds the full training checkpoint, read only when asked for)."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.inspect.export import python_file_for, state_dict_bytes
from core.inspect.source import model_source
from ui.inspect_jobs import script_export_ui


def model_downloads(run_dir: str | Path, model, key: str) -> None:
    """Download buttons for ``model`` (loaded from a checkpoint of ``run_dir``): its weights and its code."""
    name = Path(run_dir).name
    weights = f"{name}.pt"
    py = python_file_for(Path(weights))
    st.download_button("Download the weights (plain state_dict)", state_dict_bytes(model), file_name=weights,
                       key=f"{key}-dl-weights", on_click="ignore",
                       help="model.load_state_dict(torch.load(f, weights_only=True)) on the same architecture")
    try:
        source = model_source(model, state_dict_file=weights, module_name=py.stem)
    except (ValueError, OSError, TypeError) as err:  # a model whose code cannot be copied out: say so
        st.caption(f"No Python file for this model: {err}")
    else:
        st.download_button("Download the Python file that rebuilds the model", source, file_name=py.name,
                           key=f"{key}-dl-source", on_click="ignore",
                           help=f"needs only torch: from {py.stem} import load_model; load_model('{weights}')")
    st.caption("torch.export (.pt2) and ONNX exports, each checked against this model, are on the Inspect page.")
    st.markdown("**Export as Python**: the whole run (data, model, augmentation, optimizer, schedule, seeded loop, "
                "evaluation) as one file that trains it again without the lab, with the same losses and accuracy.")
    script_export_ui(str(run_dir), f"{key}-script", "Export as Python")
