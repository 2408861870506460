"""``python -m core train --data SOURCE --model NAME [...]``: train in this process and record the run.

Prints the run directory, the status and per-epoch train loss / val loss / val accuracy (``--json``: one JSON
object). Under ``torchrun --nproc_per_node=N`` the same command trains with DistributedDataParallel; ``fit`` sets up
the process group and rank 0 writes the run and prints.

    python -m core train --data builtin:digits --model cnn --epochs 3
    python -m core train --data photos/            # no --model: the default for the data (efficientnet_lite0 here)
    torchrun --nproc_per_node=2 -m core train --data builtin:digits --model mlp --max-steps 20 --json
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from core.train.store import RunStore

# CLI option -> TrainConfig field (only options the user gave are passed: TrainConfig keeps its defaults otherwise)
_FIELDS = {"data": "data", "model": "model", "epochs": "epochs", "batch_size": "batch_size", "lr": "lr",
           "optimizer": "optimizer", "weight_decay": "weight_decay", "scheduler": "scheduler",
           "mixup": "mixup_alpha", "label_smoothing": "label_smoothing", "freeze_epochs": "freeze_epochs",
           "runs_dir": "runs_dir", "max_steps": "max_steps", "seed": "seed", "device": "device",
           "grad_clip": "grad_clip", "grad_every": "grad_every", "checkpoint_segments": "checkpoint_segments"}
EPOCH_COLUMNS = ("train_loss", "val_loss", "val_acc")
ROBUST_COLUMN = "val_robust_acc"  # adversarially trained runs only: accuracy under PGD on a validation subset


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``train`` command."""
    parser.add_argument("--data", required=True, help="builtin:digits | builtin:shapes | builtin:sounds | "
                                                      "builtin:reviews | a folder | a file")
    parser.add_argument("--model", help="model name (see core.models.names()); default: the registry's default "
                                        "model for the data (core.models.default_model)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float, help="learning rate")
    parser.add_argument("--optimizer", help="adam | adamw | sgd")
    parser.add_argument("--weight-decay", type=float)
    parser.add_argument("--scheduler", help="none | step | cosine | one-cycle")
    parser.add_argument("--mixup", type=float, metavar="ALPHA", help="mixup alpha (0 = off)")
    parser.add_argument("--label-smoothing", type=float, metavar="EPS")
    parser.add_argument("--freeze-epochs", type=int, help="train only the head for the first N epochs")
    parser.add_argument("--runs-dir", help="runs root (default: runs_dir from lab.toml / $DLLAB_RUNS, else ./runs)")
    parser.add_argument("--max-steps", type=int, help="stop after this many training steps (tiny runs, tests)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--device", help="auto | cpu | cuda | cuda:1 | mps")
    parser.add_argument("--adversarial-eps", type=float, metavar="EPS",
                        help="adversarial training at this L-inf radius (pixels run 0..1): fast FGSM from a random "
                             "start, step 1.25 EPS; robust accuracy (PGD) is recorded per epoch")
    parser.add_argument("--adversarial-method", choices=("fgsm", "pgd"), default="fgsm",
                        help="with --adversarial-eps: fgsm (fast, one step) or pgd (7 steps)")
    parser.add_argument("--grad-clip", type=float, metavar="NORM", help="clip the gradient norm to NORM (0 = off)")
    parser.add_argument("--grad-every", type=int, metavar="K",
                        help="record each layer's gradient norm every K steps (default 10; 0 = off)")
    parser.add_argument("--checkpoint-segments", type=int, metavar="N",
                        help="gradient checkpointing: run the model's chain of layers in N segments (0 = off)")
    parser.add_argument("--json", action="store_true", help="print one JSON object with the outcome")


def config_from_args(args: argparse.Namespace):
    """A TrainConfig from the parsed options; options not given take the model's recommended defaults.

    Raises ``ValueError`` for an unknown model name.
    """
    from core.fields import unknown_fields
    from core.train import TrainConfig, recommended

    values = {field: getattr(args, opt) for opt, field in _FIELDS.items() if getattr(args, opt) is not None}
    if "model" not in values:
        values["model"] = default_model_for(args.data)
    unknown = unknown_fields(TrainConfig, values)
    if unknown:
        raise SystemExit(f"this version of TrainConfig has no field(s) {', '.join(unknown)}")
    if getattr(args, "adversarial_eps", None) is not None:
        from core.train.adversarial import adversarial_settings

        values["adversarial"] = adversarial_settings(args.adversarial_eps, args.adversarial_method)
    try:
        return recommended(**values)
    except KeyError as err:  # unknown model: the registry's message lists the known ones
        raise ValueError(err.args[0]) from None


def default_model_for(source: str) -> str:
    """The registry's default model for a data source (loaded once to see its kind and image sizes)."""
    from core.data import load
    from core.models import default_model

    try:
        return default_model(load(source, verify=False, cache_mb=0))  # headers are enough to decide
    except Exception as err:  # noqa: BLE001 - an unusable source: the same refusal as fit would give
        raise ValueError(f"cannot read {source!r}: {err}") from None


def summarise(run_dir) -> dict:
    """The outcome of a run as a JSON-serialisable dict: run_dir, status, error, epochs, best_val_acc."""
    store = RunStore.open(run_dir)
    info = store.info()
    epochs = store.epochs()
    columns = EPOCH_COLUMNS + ((ROBUST_COLUMN,) if ROBUST_COLUMN in epochs.columns else ())
    rows = [{"epoch": int(r["epoch"]), **{c: (None if c not in r or r[c] != r[c] else float(r[c]))
                                           for c in columns}} for _, r in epochs.iterrows()]
    return {"run_dir": str(info.run_dir), "status": info.status, "error": info.error, "epochs": rows,
            "best_val_acc": info.best_val_acc, "last_step": info.last_step}


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.4f}"


def epoch_line(epoch: int, metrics: dict) -> str:
    """One epoch as text, counted from 1 (JSON and the store count from 0)."""
    robust = f"  robust acc {_fmt(metrics['val_robust_acc'])}" if metrics.get("val_robust_acc") is not None else ""
    return (f"epoch {epoch + 1}: train loss {_fmt(metrics.get('train_loss'))}  val loss "
            f"{_fmt(metrics.get('val_loss'))}  val acc {_fmt(metrics.get('val_acc'))}{robust}")


def format_summary(s: dict, with_epochs: bool = True) -> str:
    """The outcome as text: run dir, status and (``with_epochs``) one line per epoch."""
    lines = [epoch_line(e["epoch"], e) for e in s["epochs"]] if with_epochs else []
    return "\n".join(lines + [f"run: {s['run_dir']}",
                              f"status: {s['status']}" + (f" ({s['error']})" if s["error"] else "")])


def _epoch_printer():
    """A callback printing each epoch as it ends (rank 0 only), so a long CLI run shows progress."""
    from core.train import Callback

    class EpochPrinter(Callback):
        main_only = True
        order = 1000

        def after_epoch(self, loop):
            print(epoch_line(loop.epoch, loop.metrics), flush=True)

    return EpochPrinter()


def run(args: argparse.Namespace) -> int:
    """Train; exit code 0 when the run finished (or was stopped), 1 when it failed, 2 for a bad configuration."""
    code = _train(args)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # Under torchrun, leave without running destructors: freeing a DDP model once its gloo group is gone can
        # deadlock (the group's destructor joins a gloo thread that waits for the GIL; seen here 3 times in ~40
        # runs). Everything worth keeping is committed by now (run store, checkpoints, printed output).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _train(args: argparse.Namespace) -> int:
    from core.train import fit
    from core.train.checks import check

    try:
        config = config_from_args(args)
        check(config)
        result = fit(config, callbacks=() if args.json else (_epoch_printer(),))
    except ValueError as err:  # bad data source / model / settings: say why, no traceback
        if int(os.environ.get("RANK", "0")) == 0:
            print(json.dumps({"status": "refused", "error": str(err)}) if args.json else f"refused: {err}")
        return 2
    run_dir = getattr(result, "run_dir", None)
    if int(os.environ.get("RANK", "0")) != 0 or run_dir is None:
        return 0  # other DDP ranks: rank 0 reports
    summary = summarise(run_dir)
    # --json: one line, so it can be picked out even when gloo / NCCL log lines share stdout under torchrun
    print(json.dumps(summary) if args.json else format_summary(summary, with_epochs=False), flush=True)
    return 1 if summary["status"] == "failed" else 0
