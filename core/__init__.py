"""The PyTorch side of the lab: data, augmentation, models, training, GANs, attacks.

Never imports streamlit or plotly; usable from a notebook and from ``python -m core``.
"""
