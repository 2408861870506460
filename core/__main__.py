"""Command line: ``python -m core COMMAND ...`` (see ``python -m core --help``)."""
from __future__ import annotations

import argparse
import importlib
import sys

# command -> (module under core.cli, one-line help). Adding a command is one entry here plus its module.
COMMANDS = {
    "inspect": ("inspect", "summarise a dataset: counts per class, sizes, durations, token lengths, skipped files"),
    "train": ("train", "train a model and record the run"),
    "runs": ("runs", "list recorded runs and their status"),
    "lr-find": ("lr_find", "learning-rate range test"),
    "augment": ("augment", "apply an augmentation pipeline to an image and save the draws"),
    "gan": ("gan", "train a GAN, sample it, walk between seeds (train | sample | interpolate)"),
    "attack": ("attack", "accuracy of a trained run under an attack method per epsilon; smallest fooling epsilons"),
    "inspect-model": ("inspect_model", "the layer table of a run's model: shapes, parameters, receptive field"),
    "export": ("export", "export a run's model (state_dict + Python file, torch.export, ONNX, or the run as a script), checked"),
    "serve": ("serve", "serve the lab to a room: K Streamlit processes behind one address, each browser kept on one"),
    "profile": ("profile", "profile N training steps of a run: time and memory per layer, top operators, Chrome trace"),
    "enhance": ("enhance", "super-resolution: train an upsampler, evaluate it against bicubic, apply it (train | eval | apply)"),
    "ensemble": ("ensemble", "combine finished runs on the same data: mean of probabilities, majority vote, agreement"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for command, (module_name, help_text) in COMMANDS.items():
        try:
            modules[command] = importlib.import_module(f"core.cli.{module_name}")
        except ModuleNotFoundError as err:
            if err.name != f"core.cli.{module_name}":
                raise
            continue  # command not built yet
        modules[command].add_arguments(sub.add_parser(command, help=help_text, description=help_text))
    args = parser.parse_args(argv)
    return modules[args.command].run(args)


if __name__ == "__main__":
    sys.exit(main())
