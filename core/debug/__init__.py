"""Debugging a run: gradient norms per layer (``grads``, the ``GradientStats`` callback), a per-layer profiler
(``profile``), gradient checkpointing you can measure (``checkpointing``) and the device's memory (``device``)."""
