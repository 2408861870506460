"""``python -m core gan train|sample|interpolate``: train a GAN in this process, then sample and walk its latent space.

    python -m core gan train --data toy:ring --max-steps 2000 --json
    python -m core gan train --data builtin:digits --model dcgan --epochs 40 --judge runs/20260101-120000-cnn-digits
    python -m core gan sample RUN_DIR --seeds 1,2,3 --out samples/
    python -m core gan interpolate RUN_DIR --a 1 --b 2 --steps 16 --method slerp --gif walk.gif

``train --json`` prints one JSON object: run directory, status, per-epoch history and the final collapse figures
(``modes_covered`` of ``num_modes`` -- ring modes, or with ``--judge`` the classes the judge sees, then also
``num_classes`` and ``frechet_distance``).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

# CLI option -> GanConfig field (options not given keep the preset's values)
_FIELDS = {"model": "model", "epochs": "epochs", "max_steps": "max_steps", "batch_size": "batch_size",
           "loss": "loss", "activation": "activation", "optimizer": "optimizer", "d_steps": "d_steps",
           "lr_g": "lr_g", "lr_d": "lr_d", "latent_dim": "latent_dim", "image_size": "image_size", "judge": "judge",
           "seed": "seed", "runs_dir": "runs_dir", "device": "device", "layer_norm": "layer_norm",
           "resume_from": "resume"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``gan`` command and its three sub-commands."""
    sub = parser.add_subparsers(dest="gan_command", required=True)
    _train_arguments(sub.add_parser("train", help="train a GAN and record the run"))
    sample = sub.add_parser("sample", help="generate from a trained GAN for some seeds")
    sample.add_argument("run_dir", help="a GAN run directory")
    sample.add_argument("--seeds", required=True, help="comma-separated integers, e.g. 1,2,3")
    sample.add_argument("--out", required=True, help="folder for seed_N.png and grid.png (toys: samples.json)")
    walk = sub.add_parser("interpolate", help="walk from seed A to seed B; a GIF and a grid PNG")
    walk.add_argument("run_dir", help="a GAN run directory")
    walk.add_argument("--a", type=int, required=True, help="seed A")
    walk.add_argument("--b", type=int, required=True, help="seed B")
    walk.add_argument("--steps", type=int, default=16, help="frames, both ends included (default 16)")
    walk.add_argument("--method", choices=("slerp", "lerp"), default="slerp")
    walk.add_argument("--gif", help="write the walk as an animated GIF (image GANs)")
    walk.add_argument("--png", help="write the walk as a grid PNG (image GANs)")
    walk.add_argument("--json", action="store_true", help="print the outputs along the walk as JSON")


def _train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="toy:1010 | toy:ring | builtin:digits | builtin:shapes | a folder")
    p.add_argument("--model", help="mlp | dcgan | dcgan-8 | dcgan-28 | dcgan-32 | dcgan-64 (default mlp)")
    p.add_argument("--preset", choices=("improved", "plain"), default="improved",
                   help="improved: BCE, LeakyReLU, LayerNorm, Adam (DCGAN: its recipe); plain: MSE, sigmoid, SGD")
    p.add_argument("--epochs", type=int)
    p.add_argument("--max-steps", type=int, help="stop after this many generator steps (tiny runs, tests)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--loss", choices=("mse", "bce"))
    p.add_argument("--activation", choices=("sigmoid", "leaky_relu"))
    p.add_argument("--layer-norm", action=argparse.BooleanOptionalAction)
    p.add_argument("--optimizer", choices=("sgd", "adam"))
    p.add_argument("--d-steps", type=int, metavar="K", help="discriminator steps per generator step")
    p.add_argument("--lr-g", type=float, help="generator learning rate")
    p.add_argument("--lr-d", type=float, help="discriminator learning rate")
    p.add_argument("--latent-dim", type=int)
    p.add_argument("--image-size", type=int, help="train images at this side (default: the data's own)")
    p.add_argument("--judge", metavar="RUN_DIR", help="a classifier run on the same data: classes and FID")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a GAN run from its last checkpoint")
    p.add_argument("--seed", type=int)
    p.add_argument("--runs-dir", help="runs root (default: runs_dir from lab.toml / $DLLAB_RUNS, else ./runs)")
    p.add_argument("--device", help="auto | cpu | cuda | mps")
    p.add_argument("--json", action="store_true", help="print one JSON object with the outcome")


def run(args: argparse.Namespace) -> int:
    """Dispatch to the sub-command; 0 on success, 1 for a failed run, 2 for bad input (with the reason)."""
    try:
        return {"train": _train, "sample": _sample, "interpolate": _interpolate}[args.gan_command](args)
    except (ValueError, FileNotFoundError, KeyError) as err:
        message = err.args[0] if isinstance(err, KeyError) else str(err)
        if getattr(args, "json", False):
            print(json.dumps({"status": "refused", "error": message}))
        else:
            print(f"refused: {message}")
        return 2


def config_from_args(args: argparse.Namespace):
    """A GanConfig: the preset for the data and model, with the options given on the command line."""
    from core.gan import recommended

    values = {f: getattr(args, o) for f, o in _FIELDS.items() if getattr(args, o, None) is not None}
    return recommended(args.data, values.pop("model", "mlp"), args.preset, **values)


def final_figures(collapse: dict | None) -> dict:
    """The collapse figures the CLI reports: modes covered of how many (ring modes, or the judge's classes),
    near-mode share, diversity ratio, Frechet distance."""
    c = collapse or {}
    judged = c.get("classes_covered") is not None
    out = {"modes_covered": c.get("classes_covered") if judged else c.get("modes_covered"),
           "num_modes": len(c["classes"]) if judged else c.get("modes_total"),
           "near_mode_share": c.get("near_mode_share"), "diversity_ratio": c.get("diversity_ratio"),
           "pattern_error": c.get("pattern_error"), "verdict": c.get("verdict")}
    if judged:
        out.update(num_classes=len(c["classes"]), frechet_distance=c.get("frechet_distance"),
                   class_histogram=c.get("class_histogram"))
    return out


def _epoch_line(h: dict) -> str:
    extra = f"  modes {int(h['modes_covered'])}" if "modes_covered" in h else ""
    extra += f"  classes {int(h['classes_covered'])}" if "classes_covered" in h else ""
    return (f"epoch {h['epoch'] + 1}: D loss real {h['d_loss_real']:.3f}  fake {h['d_loss_fake']:.3f}  "
            f"G loss {h['g_loss']:.3f}  D(x) {h['d_real']:.2f}  D(G(z)) {h['d_fake']:.2f}{extra}")


class _EpochPrinter:
    order = 1000

    def after_epoch(self, loop):
        print(_epoch_line(loop.history[-1]), flush=True)


def _train(args: argparse.Namespace) -> int:
    from core.gan import fit
    from core.gan.data import probe_data
    from core.jobs.job import RESULT_NAME, write_json
    from core.settings import load_settings

    config = config_from_args(args)
    problems = config.problems(probe_data(config.data, config.image_size, config.data_opts), load_settings().limits)
    if problems:
        raise ValueError("; ".join(problems))
    result = fit(config, callbacks=() if args.json else (_EpochPrinter(),))
    write_json(Path(result.run_dir) / RESULT_NAME, result.to_dict())  # as a job would: read_result(run_dir) works
    summary = {"run_dir": result.run_dir, "status": result.status, "error": result.error, "steps": result.steps,
               "epochs": result.history, **final_figures(result.collapse)}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"run: {result.run_dir}\nstatus: {result.status}" + (f" ({result.error})" if result.error else ""))
        if summary["verdict"]:
            print(f"collapse: {summary['verdict']}")
    return 1 if result.status == "failed" else 0


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"--seeds takes whole numbers separated by commas, not {text!r}") from None
    if not seeds:
        raise ValueError("--seeds needs at least one seed")
    return seeds


def _outputs(run_dir: str, z):
    from core.gan.checkpoint import generator_input, load_generator
    from core.gan.latent import generate

    g, info = load_generator(run_dir)
    return generate(g, generator_input(info, z)), info


def _sample(args: argparse.Namespace) -> int:
    from core.gan.checkpoint import load_generator
    from core.gan.latent import zs_from_seeds
    from core.gan.render import grid_png, images, write_bytes

    seeds = _seeds(args.seeds)
    _, info = load_generator(args.run_dir)
    out, _ = _outputs(args.run_dir, zs_from_seeds(seeds, info.latent_dim))
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    if info.kind == "image":
        for seed, pic in zip(seeds, images(out)):
            pic.save(folder / f"seed_{seed}.png")
        write_bytes(grid_png(out, nrow=min(8, len(seeds))), folder / "grid.png")
        print(f"wrote {len(seeds)} images and grid.png to {folder}")
    else:
        values = {str(s): row for s, row in zip(seeds, out.tolist())}
        (folder / "samples.json").write_text(json.dumps(values, indent=1))
        print(f"wrote {len(seeds)} samples to {folder / 'samples.json'}")
    return 0


def _interpolate(args: argparse.Namespace) -> int:
    from core.gan.checkpoint import load_generator
    from core.gan.latent import interpolate, z_from_seed
    from core.gan.render import gif_bytes, grid_png, write_bytes

    _, info = load_generator(args.run_dir)
    path = interpolate(z_from_seed(args.a, info.latent_dim), z_from_seed(args.b, info.latent_dim), args.steps,
                       args.method)
    out, _ = _outputs(args.run_dir, path)
    if (args.gif or args.png) and info.kind != "image":
        raise ValueError(f"--gif and --png need an image GAN; this run makes {info.kind} (use --json)")
    if args.gif:
        write_bytes(gif_bytes(out), args.gif)
    if args.png:
        write_bytes(grid_png(out, nrow=min(8, args.steps)), args.png)
    if args.json:
        print(json.dumps({"a": args.a, "b": args.b, "method": args.method, "steps": args.steps,
                          "outputs": out.flatten(1).tolist() if info.kind != "image" else None,
                          "gif": args.gif, "png": args.png}))
    elif args.gif or args.png:
        print(f"wrote {', '.join(p for p in (args.gif, args.png) if p)} ({args.steps} frames, {args.method})")
    return 0
