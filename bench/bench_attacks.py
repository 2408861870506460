"""Attacks: the batched sweep against the tutorial's one-image loop, minimal_eps's pass count, and the accuracy
versus epsilon of small CNNs trained in the lab on builtin:digits (plain, label-smoothed, adversarially trained).

    .venv/bin/python bench/bench_attacks.py [--images 1000] [--threads 1] [--device auto] [--epochs 6]

1. Sweep: FGSM at 7 epsilons (0, 0.05, ..., 0.3) over 1,000 digits images, ``core.attacks.sweep`` (batches of
   256; one forward/backward per batch gives the clean predictions and the gradient sign, reused for every epsilon)
   against the loop of PyTorch's FGSM tutorial (one image per model call: forward, backward, forward; per epsilon),
   timed in the same run on the same trained model. Target: >= 20x on the CPU. Both must give the same accuracies.
   builtin:digits has 269 validation images, so the 1,000 are its validation, test and then training images (the
   timing does not depend on which). Twice: the lab's CNN at the lab's default image size for digits (32x32,
   upscaled from 8x8) and the same CNN at the digits' own 8x8, where a model call costs 16x less arithmetic.
2. minimal_eps on 256 images at tol 1e-3 (eps_max 1): every forward call of the model is counted with a hook.
   Target: at most 23 batched passes (1 gradient pass + a scan of 16 epsilons + 6 halvings of the first fooling
   grid step; core.attacks.minimal.search_tries + 1).
3. Accuracy versus epsilon (FGSM and PGD-10) on the 269 validation images for CNNs trained here with
   ``core.train.fit``: plain, label smoothing 0.1, and fast adversarial training at eps 0.1.
4. Transfer (black-box) table at eps 0.1 between those three runs (``core.attacks.transfer``): rows craft the
   attack, columns are evaluated; the diagonal is checked against section 3's white-box figure at that eps.
   ``--only transfer`` trains the three runs and makes just this table (small: ``--epochs 2``).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import ConcatDataset, DataLoader, Subset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core.attacks import load_run_target, minimal_eps, sweep  # noqa: E402
from core.attacks.minimal import search_tries  # noqa: E402
from core.device import describe_device, pick_device  # noqa: E402
from core.train import TrainConfig, recommended  # noqa: E402
from core.train.loop import fit  # noqa: E402

EPSILONS = [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3]
VARIANTS = {"plain": {}, "label smoothing 0.1": {"label_smoothing": 0.1},
            "adversarial (FGSM, eps 0.1)": {"adversarial": {"method": "fgsm", "eps": 0.1, "alpha": 0.125,
                                                             "random_start": True}}}


def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def tutorial_loop(model, dataset, epsilons, device) -> tuple[list[float], float]:
    """The PyTorch FGSM tutorial's test(): one image at a time, per epsilon; (accuracies, seconds)."""
    _sync(device)
    start = time.perf_counter()
    accuracies = []
    for eps in epsilons:
        correct = 0
        for data, target in DataLoader(dataset, batch_size=1):
            data, target = data.to(device), target.to(device)
            data.requires_grad = True
            output = model(data)
            if output.max(1, keepdim=True)[1].item() != target.item():
                continue  # already wrong: the tutorial does not bother attacking
            loss = F.cross_entropy(output, target)
            model.zero_grad()
            loss.backward()
            perturbed = torch.clamp(data + eps * data.grad.data.sign(), 0, 1)  # fgsm_attack()
            if model(perturbed).max(1, keepdim=True)[1].item() == target.item():
                correct += 1
        accuracies.append(correct / len(dataset))
    _sync(device)
    model.zero_grad(set_to_none=True)
    return accuracies, time.perf_counter() - start


def batched_sweep(model, dataset, epsilons, device) -> tuple[list[float], float]:
    _sync(device)
    start = time.perf_counter()
    result = sweep(model, DataLoader(dataset, batch_size=256), epsilons, method="fgsm", examples=0)
    _sync(device)
    return result.accuracy, time.perf_counter() - start


def count_passes(model, x, tol=1e-3) -> tuple[int, float, torch.Tensor]:
    """Forward calls of ``model`` made by minimal_eps on the batch ``x``, its seconds and the epsilons found."""
    calls = []
    handle = model.register_forward_hook(lambda m, i, o: calls.append(len(i[0])))
    try:
        start = time.perf_counter()
        eps, _ = minimal_eps(model, x, method="fgsm", eps_max=1.0, tol=tol)
        seconds = time.perf_counter() - start
    finally:
        handle.remove()
    return len(calls), seconds, eps


def train(variant: dict, epochs: int, runs_dir: str, device: str, **extra) -> Path:
    cfg = recommended("cnn", "builtin:digits", epochs=epochs, runs_dir=runs_dir, stats_every=0, tensorboard=False,
                      device=device, **variant, **extra)
    result = fit(TrainConfig.from_dict(cfg.to_dict()))
    assert result.status == "finished", result.error
    return Path(result.run_dir)


def _images(target, n: int):
    """The first ``n`` of the run's validation, test and training images (no augmentation)."""
    splits = target.bundle.splits
    for split in splits.values():
        split.transform = None
    pool = ConcatDataset([splits["val"], splits["test"], splits["train"]])
    return Subset(pool, range(min(n, len(pool))))


def speed(targets: dict, n_images: int, device) -> dict:
    """Section 1: the batched sweep against the tutorial's loop, per model (label -> AttackTarget)."""
    out = {}
    for label, target in targets.items():
        images = _images(target, n_images)
        slow_acc, slow = tutorial_loop(target.model, images, EPSILONS, device)
        fast_acc, fast = batched_sweep(target.model, images, EPSILONS, device)
        same = max(abs(a - b) for a, b in zip(slow_acc, fast_acc))
        print(f"\n1. FGSM sweep, {len(EPSILONS)} epsilons x {len(images)} images, CNN on {label} digits: tutorial "
              f"loop {slow:.2f} s, core.attacks.sweep {fast:.3f} s -> {slow / fast:.1f}x faster (target >= 20x); "
              f"largest accuracy difference {same:.4f}")
        out[label] = {"images": len(images), "epsilons": EPSILONS, "tutorial_s": slow, "batched_s": fast,
                      "speedup": slow / fast, "tutorial_acc": slow_acc, "batched_acc": fast_acc}
    return out


def passes(target, device) -> dict:
    """Section 2: minimal_eps on 256 images, its forward calls counted."""
    images = _images(target, 256)
    x = torch.stack([images[i][0] for i in range(len(images))]).to(device)
    n, seconds, eps = count_passes(target.model, x)
    finite = eps[torch.isfinite(eps)]
    print(f"\n2. minimal_eps on {len(x)} images at tol 1e-3: {n} batched passes (target <= {search_tries() + 1}), "
          f"{seconds:.3f} s; "
          f"median smallest eps {finite.median():.4f}, never fooled {(~torch.isfinite(eps)).float().mean():.1%}")
    return {"images": len(x), "passes": n, "seconds": seconds}


def table(targets: dict) -> dict:
    """Section 3: accuracy versus epsilon (FGSM, PGD-10) of each model on the validation split."""
    val = next(iter(targets.values())).bundle.splits["val"]
    print(f"\n3. Accuracy versus epsilon on the {len(val)} validation images (FGSM / PGD-10)")
    print(f"{'model':<30} {'attack':<6} " + "   ".join(f"{e:>11g}" for e in EPSILONS))
    out = {}
    for name, target in targets.items():
        loader = DataLoader(target.bundle.splits["val"], batch_size=256)
        for method in ("fgsm", "pgd"):
            r = sweep(target.model, loader, EPSILONS, method=method, steps=10, examples=0,
                      generator=torch.Generator().manual_seed(0))
            out[f"{name} / {method}"] = r.accuracy
            print(f"{name:<30} {method:<6} " + "   ".join(f"{a:>11.1%}" for a in r.accuracy))
    return out


def transfer(targets: dict, eps: float = 0.1) -> dict:
    """Section 4: the transfer table between the runs (FGSM, PGD-10), its diagonal against the white-box sweep."""
    from core.attacks.transfer import config_for, transfer_table

    names = {str(t.run_dir): name for name, t in targets.items()}
    runs = list(names)
    cfg = config_for(runs, runs, eps=eps, limit=0, steps=10, seed=0)
    result = transfer_table(cfg, loaded={str(t.run_dir): t for t in targets.values()})
    print(f"\n4. Transfer table at eps {eps:g} on the {result.n} validation images ({result.seconds:.1f} s): "
          "target accuracy, rows craft the attack, [white-box]")
    out = {"eps": eps, "n": result.n, "clean": dict(zip(names.values(), result.clean))}
    for method in result.methods:
        print(f"{method:<30} " + " ".join(f"{n[:22]:>24}" for n in names.values()))
        for run, row in zip(runs, result.accuracy[method]):
            cells = [f"[{a:.1%}]" if r == run else f"{a:.1%}" for r, a in zip(runs, row)]
            print(f"{names[run]:<30} " + " ".join(f"{c:>24}" for c in cells))
        loader_sweeps = {names[r]: sweep(targets[names[r]].model, DataLoader(_val(targets[names[r]]), batch_size=256),
                                         [eps], method=method, steps=10, examples=0,
                                         generator=torch.Generator().manual_seed(0)).accuracy[0] for r in runs}
        diagonal = {names[r]: result.accuracy[method][i][i] for i, r in enumerate(runs)}
        gap = max(abs(diagonal[n] - loader_sweeps[n]) for n in diagonal)
        print(f"   diagonal vs white-box sweep at eps {eps:g}: largest difference {gap:.2e}")
        out[method] = {"rows": [names[r] for r in runs], "accuracy": result.accuracy[method], "diagonal_gap": gap}
    return out


def _val(target):
    """The run's validation split without augmentation, in the order the transfer table uses (seed 0)."""
    from core.attacks.runs import split_samples

    return split_samples(target, "val", 0, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (1: steady on a shared machine)")
    parser.add_argument("--device", default="cpu", help="cpu (the target is a CPU figure) | auto | cuda")
    parser.add_argument("--epochs", type=int, default=6, help="training epochs of each CNN")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    parser.add_argument("--only", choices=("transfer",), help="just section 4 (the transfer table)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    print(f"device: {describe_device(device)}")
    out = {"device": describe_device(device)}
    with tempfile.TemporaryDirectory() as runs:
        t0 = time.time()
        targets = {name: load_run_target(train(v, args.epochs, runs, str(device)), device=device)
                   for name, v in VARIANTS.items()}
        if args.only == "transfer":
            out["transfer"] = transfer(targets)
            print(f"done in {time.time() - t0:.0f} s")
            return
        small = load_run_target(train({}, args.epochs, runs, str(device), data_opts={"image_size": 8}), device=device)
        print(f"trained {len(targets) + 1} CNNs on builtin:digits in {time.time() - t0:.0f} s")
        out["sweep"] = speed({"32x32 (lab default)": targets["plain"], "8x8 (native)": small}, args.images, device)
        out["minimal_eps"] = passes(targets["plain"], device)
        out["table"] = table(targets)
        out["transfer"] = transfer(targets)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
