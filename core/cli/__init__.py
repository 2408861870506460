"""Sub-commands of ``python -m core``. Each module has ``add_arguments(parser)`` and ``run(args) -> int``."""
