"""Quality of what a user gets without choosing, against classic scikit-learn baselines on the same split.

    .venv/bin/python bench/bench_quality.py [FOLDER ...] [--threads 2] [--no-photos] [--no-text-models]

For every built-in set, a real-photo set made offline from scikit-image's photos (bench/photo_set.py) and any
folder given: the default model (``core.models.default_model``) trained with the registry's defaults
(``core.train.recommended``, nothing tuned by hand) vs a scikit-learn baseline on the same train/val split:
logistic regression on pixels (images), on pooled pretrained EfficientNet-Lite0 features (photos), on MFCC
mean/std (audio), on TF-IDF of 1-2 grams (text). Also:
- feature caching: a head-only epoch on cached backbone features vs an epoch through the full network
  (fine-tuning every layer) and vs a frozen backbone recomputed every epoch; target >= 10x;
- text models on builtin:reviews (3 seeds each), which is how the default text model was chosen;
- ``--real-text FILE``: k-fold on real labelled sentences, the lab default vs TF-IDF + LR (and wordllama
  mean-pooled embeddings + LR when the wordllama wheel is installed, or ``--wordllama DIR``).
- distillation on builtin:digits: a small MLP student trained plainly vs distilled from the default CNN teacher
  (core.train.distill, T = 4), same epochs and seed: accuracy and size of teacher, plain student, distilled student;
  and defensive distillation (the CNN at T = 20): white-box FGSM / PGD accuracy at eps 0.1 against the teacher's,
  and FGSM crafted on the undistilled teacher (a transfer attack).
Targets: the default beats (or, at 100%, ties) the baseline on every built-in set; the pretrained model on photos
reaches the baseline within 3 minutes on 2 CPU cores. Writes bench/results/bench_quality.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.photo_set import make_photo_set  # noqa: E402
from core.data import load  # noqa: E402
from core.models import build_for, default_model  # noqa: E402
from core.models.features import BackboneFeatures  # noqa: E402
from core.train import fit, recommended  # noqa: E402
from core.train.data import prepare_splits  # noqa: E402
from core.train.optim import set_frozen  # noqa: E402

RESULTS = ROOT / "bench" / "results"
BUILTIN = ("builtin:digits", "builtin:shapes", "builtin:sounds", "builtin:reviews")
TEXT_MODELS = ("textcnn", "bag_ngrams", "bigru_max", "lstm", "gru")
PHOTO_BUDGET_S = 180  # the pretrained model on photos must reach the baseline within this (2 CPU cores)


# ---- baselines ------------------------------------------------------------------------------------------------------
def _logreg(x_train, y_train, x_val, y_val) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    return float(clf.fit(x_train, y_train).score(x_val, y_val))


def _arrays(split, fn=lambda x: x.flatten().numpy()):
    xs, ys = zip(*(split[i] for i in range(len(split))))
    return np.stack([fn(x) for x in xs]), np.asarray(ys)


@torch.no_grad()
def _lite0_features(split) -> tuple[np.ndarray, np.ndarray]:
    """Pooled 1280-wide ImageNet features of EfficientNet-Lite0 (frozen, eval mode) for every image."""
    net = BackboneFeatures(build_for(_FakeBundle(split), "efficientnet_lite0")).eval()
    loader = torch.utils.data.DataLoader(split, batch_size=64)
    feats, ys = zip(*((net(x), y) for x, y in loader))
    return torch.cat(feats).numpy(), torch.cat(ys).numpy()


class _FakeBundle:  # build_for needs only kind, classes and the input shape
    kind, classes = "image", [0, 1]

    def __init__(self, split):
        self.input_shape = tuple(split[0][0].shape)


def _mfcc(split, sample_rate: int):
    import librosa

    def fn(wave):
        m = librosa.feature.mfcc(y=wave[0].numpy(), sr=sample_rate, n_mfcc=20)  # (20, frames)
        return np.concatenate([m.mean(1), m.std(1)])
    return _arrays(split, fn)


def baseline(source: str, photos: bool, data_opts: dict) -> dict:
    """The scikit-learn baseline on the same split as the default run: accuracy, seconds and what it is."""
    start = time.perf_counter()
    if photos:
        bundle = load(source, **data_opts)  # the same resolution the pretrained model sees
        what = "logistic regression on pooled EfficientNet-Lite0 ImageNet features"
        (xt, yt), (xv, yv) = _lite0_features(bundle.splits["train"]), _lite0_features(bundle.splits["val"])
    else:
        bundle = load(source)
        tr, va = bundle.splits["train"], bundle.splits["val"]
        if bundle.kind == "image":
            what, (xt, yt), (xv, yv) = "logistic regression on pixels", _arrays(tr), _arrays(va)
        elif bundle.kind == "audio":
            what = "logistic regression on MFCC mean/std"
            (xt, yt), (xv, yv) = _mfcc(tr, bundle.sample_rate), _mfcc(va, bundle.sample_rate)
        else:
            from sklearn.feature_extraction.text import TfidfVectorizer
            from sklearn.linear_model import LogisticRegression

            vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
            clf = LogisticRegression(max_iter=3000).fit(vec.fit_transform(tr.texts), tr.targets)
            acc = float(clf.score(vec.transform(va.texts), va.targets))
            return {"what": "logistic regression on TF-IDF of 1-2 grams", "val_acc": acc,
                    "seconds": time.perf_counter() - start}
    acc = _logreg(xt, yt, xv, yv)
    return {"what": what, "val_acc": acc, "seconds": time.perf_counter() - start}


# ---- the default model ----------------------------------------------------------------------------------------------
def default_run(source: str, runs_dir: str, seed: int = 0, model: str | None = None) -> dict:
    """Train what a user gets for ``source`` without choosing anything (or ``model`` with its defaults)."""
    model = model or default_model(load(source, verify=False, cache_mb=0))
    config = recommended(model, source, runs_dir=runs_dir, seed=seed)
    start = time.perf_counter()
    result = fit(config)
    history = result.history
    return {"model": model, "val_acc": history[-1]["val_acc"] if history else None, "best_val_acc":
            result.best_val_acc, "seconds": time.perf_counter() - start, "epochs": result.epochs_done,
            "status": result.status, "notices": result.notices, "data_opts": config.data_opts}


# ---- feature caching ------------------------------------------------------------------------------------------------
def _epoch_seconds(model, loader, params, step_fn, max_batches: int | None = None) -> tuple[float, int]:
    """Seconds of one training epoch (forward, backward, AdamW step), extrapolated from ``max_batches`` batches."""
    opt = torch.optim.AdamW(params, lr=1e-4)
    n, start = 0, time.perf_counter()
    for xb, yb in loader:
        loss = torch.nn.functional.cross_entropy(step_fn(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        n += 1
        if max_batches and n >= max_batches:
            break
    return (time.perf_counter() - start) * len(loader) / n, n


def caching_speed(source: str, full_batches: int = 3) -> dict:
    """A head-only epoch on cached features vs epochs that run the backbone (frozen, or fine-tuned)."""
    config = recommended("efficientnet_lite0", source)
    bundle = load(source, **config.data_opts)
    model = build_for(bundle, "efficientnet_lite0")
    start = time.perf_counter()
    train, _, _ = prepare_splits(config, bundle, model, with_val=False)
    cache_s = time.perf_counter() - start
    dl = lambda ds: torch.utils.data.DataLoader(ds, batch_size=config.batch_size, shuffle=True,  # noqa: E731
                                                generator=torch.Generator().manual_seed(0))
    model.train()
    set_frozen(model, True, train_bn=False)
    for m in model.modules():  # frozen backbone: batch-norm in eval mode, as the trainer does
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()
    cached, _ = _epoch_seconds(model, dl(train), model.head.parameters(), model)
    raw = bundle.splits["train"]
    frozen, n1 = _epoch_seconds(model, dl(raw), model.head.parameters(), model, full_batches)
    set_frozen(model, False)
    model.train()
    full, n2 = _epoch_seconds(model, dl(raw), model.parameters(), model, full_batches)
    return {"images": len(train), "cache_seconds": cache_s, "cached_epoch_s": cached,
            "frozen_recomputed_epoch_s": frozen, "full_network_epoch_s": full, "batches_timed_uncached": n1,
            "speedup_vs_full": full / cached, "speedup_vs_frozen_recomputed": frozen / cached}


# ---- text models ----------------------------------------------------------------------------------------------------
def text_models(runs_dir: str, seeds=(0, 1, 2)) -> list[dict]:
    rows = []
    for name in TEXT_MODELS:
        runs = [default_run("builtin:reviews", runs_dir, seed, model=name) for seed in seeds]
        accs = [r["val_acc"] for r in runs]
        rows.append({"model": name, "val_acc_mean": statistics.mean(accs), "val_acc_min": min(accs),
                     "seconds_median": statistics.median(r["seconds"] for r in runs)})
    return rows


# ---- text on real sentences -----------------------------------------------------------------------------------------
def real_text(path: str, runs_dir: str, folds: int = 5, wordllama: str | None = None, limit: int = 0) -> dict:
    """K-fold (stratified, seed 0) on a real labelled text file (any format core.data reads): the lab's default text
    model (registry defaults, nothing tuned) against TF-IDF (1-2 grams) + logistic regression on the same folds,
    and mean-pooled wordllama embeddings + logistic regression when its files are found (core.models.wordllama)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    from core.data.text import read_rows
    from core.models.wordllama import WordLlama, find_files

    rows = read_rows(Path(path))
    texts, labels = rows.texts[:limit or None], rows.labels[:limit or None]
    classes = sorted(set(labels))
    y = np.array([classes.index(label) for label in labels])
    emb = WordLlama.load(wordllama) if find_files(wordllama) else None
    vectors = emb.sentence_vectors(texts).numpy() if emb is not None else None
    out = {"file": str(path), "n": len(texts), "classes": classes, "folds": folds, "tfidf_lr": [], "default": [],
           "wordllama_lr": [] if emb is not None else None}
    for k, (tr, va) in enumerate(StratifiedKFold(folds, shuffle=True, random_state=0).split(texts, y)):
        vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        clf = LogisticRegression(max_iter=3000).fit(vec.fit_transform([texts[i] for i in tr]), y[tr])
        out["tfidf_lr"].append(float(clf.score(vec.transform([texts[i] for i in va]), y[va])))
        if vectors is not None:
            out["wordllama_lr"].append(_logreg(vectors[tr], y[tr], vectors[va], y[va]))
        folder = Path(tempfile.mkdtemp(prefix=f"real-text-fold{k}-"))
        for name, idx in (("train", tr), ("val", va)):
            (folder / f"{name}.tsv").write_text("".join(f"{' '.join(texts[i].split())}\t{labels[i]}\n" for i in idx),
                                                encoding="utf-8")
        out["default"].append(default_run(str(folder), runs_dir))
        print(f"fold {k + 1}/{folds}: {out['default'][-1]['model']} {_pct(out['default'][-1]['val_acc'])}, "
              f"TF-IDF + LR {_pct(out['tfidf_lr'][-1])}"
              + (f", wordllama + LR {_pct(out['wordllama_lr'][-1])}" if vectors is not None else ""), flush=True)
    out["mean"] = {"default": statistics.mean(d["val_acc"] for d in out["default"]),
                   "tfidf_lr": statistics.mean(out["tfidf_lr"]),
                   "wordllama_lr": statistics.mean(out["wordllama_lr"]) if vectors is not None else None}
    return out
# ---- distillation ---------------------------------------------------------------------------------------------------
def distillation(runs_dir: str, epochs: int = 8, temperature: float = 4.0, alpha: float = 0.5) -> dict:
    """Teacher (the default CNN), a plain small MLP and the same MLP distilled from the teacher, on the digits."""
    from core.train.distill import distill_settings

    common = dict(runs_dir=runs_dir, stats_every=0, tensorboard=False, epochs=epochs)
    student = dict(model_opts={"hidden": [32]}, augment_preset=False)
    rows = {}
    for name, config in (("teacher", recommended("cnn", "builtin:digits", **common)),
                         ("plain student", recommended("mlp", "builtin:digits", **common, **student))):
        rows[name] = _distill_row(config)
    taught = recommended("mlp", "builtin:digits", **common, **student,
                         distill=distill_settings(rows["teacher"]["run_dir"], temperature, alpha))
    rows["distilled student"] = _distill_row(taught)
    defensive = recommended("cnn", "builtin:digits", **common,
                            distill=distill_settings(rows["teacher"]["run_dir"], DEFENSIVE_T, 0.0))
    rows[f"defensive (T = {DEFENSIVE_T:g})"] = _distill_row(defensive)
    robustness = _robustness(rows["teacher"]["run_dir"], rows[f"defensive (T = {DEFENSIVE_T:g})"]["run_dir"])
    return {"epochs": epochs, "temperature": temperature, "alpha": alpha, "rows": rows, "robustness": robustness}


DEFENSIVE_T, ATTACK_EPS, ATTACK_SAMPLES = 20.0, 0.1, 300


def _robustness(teacher_dir: str, defended_dir: str) -> dict:
    """Accuracy at eps ATTACK_EPS on validation samples: white-box FGSM / PGD on the teacher and on the defensively
    distilled model, and FGSM crafted on the (undistilled) teacher, evaluated on the distilled model."""
    from core.attacks import fgsm, pgd
    from core.attacks.target import load_run_target

    t, d = load_run_target(teacher_dir), load_run_target(defended_dir)
    val = d.bundle.splits["val"]
    x = torch.stack([val[i][0] for i in range(min(ATTACK_SAMPLES, len(val)))])
    y = torch.tensor([val[i][1] for i in range(len(x))])

    def acc(model, inputs):
        with torch.no_grad():
            return float((model(inputs).argmax(1) == y).float().mean())

    return {"eps": ATTACK_EPS, "n": len(y),
            "teacher": {"clean": acc(t.model, x), "fgsm": acc(t.model, fgsm(t.model, x, y, ATTACK_EPS)),
                        "pgd": acc(t.model, pgd(t.model, x, y, ATTACK_EPS))},
            "defensive": {"clean": acc(d.model, x), "fgsm": acc(d.model, fgsm(d.model, x, y, ATTACK_EPS)),
                          "pgd": acc(d.model, pgd(d.model, x, y, ATTACK_EPS)),
                          "fgsm_from_teacher": acc(d.model, fgsm(t.model, x, y, ATTACK_EPS))}}


def _distill_row(config) -> dict:
    from core.train.evaluate import load_run_model

    result = fit(config)
    model, _ = load_run_model(result.run_dir)
    return {"model": config.model, "val_acc": result.history[-1]["val_acc"], "seconds": result.seconds,
            "params": sum(p.numel() for p in model.parameters()), "run_dir": result.run_dir}


# ---- report ---------------------------------------------------------------------------------------------------------
def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def markdown(report: dict) -> str:
    lines = [f"Measured with {report['threads']} torch threads on a shared 2-core machine; load average "
             f"{report.get('load_average_at_start', 0):.1f} at the start, {report.get('load_average_at_end', 0):.1f} "
             "at the end (times are wall-clock, so a loaded machine inflates them).", "",
             "| data | default model | val acc (final / best) | time | baseline (scikit-learn, same split) | "
             "baseline acc | time | default ≥ baseline |", "|---|---|---|---|---|---|---|---|"]
    for r in report["sets"]:
        d, b = r["default"], r["baseline"]
        lines.append(f"| {r['label']} | {d['model']} | {_pct(d['val_acc'])} / {_pct(d['best_val_acc'])} | "
                     f"{d['seconds']:.0f} s | {b['what']} | {_pct(b['val_acc'])} | {b['seconds']:.0f} s | "
                     f"{'yes' if d['val_acc'] >= b['val_acc'] else 'NO'} |")
    c = report.get("caching")
    if c:
        lines += ["", f"Feature caching on the photo set ({c['images']} training images at 224 px, EfficientNet-Lite0):"
                  f" caching took {c['cache_seconds']:.1f} s once; then a head-only epoch on cached features takes "
                  f"{c['cached_epoch_s']:.2f} s, vs {c['full_network_epoch_s']:.1f} s for an epoch through the full "
                  f"network (fine-tuning every layer; **{c['speedup_vs_full']:.0f}x**) and "
                  f"{c['frozen_recomputed_epoch_s']:.1f} s with the frozen backbone recomputed every epoch "
                  f"(**{c['speedup_vs_frozen_recomputed']:.0f}x**). Uncached epochs are extrapolated from "
                  f"{c['batches_timed_uncached']} timed batches."]
    t = report.get("text_models")
    if t:
        lines += ["", "Text models on builtin:reviews (registry defaults, seeds 0-2):", "",
                  "| model | val acc mean | min | median time |", "|---|---|---|---|"]
        lines += [f"| {r['model']} | {_pct(r['val_acc_mean'])} | {_pct(r['val_acc_min'])} | "
                  f"{r['seconds_median']:.1f} s |" for r in t]
    r = report.get("real_text")
    if r:
        m = r["mean"]
        lines += ["", f"Real labelled text ({r['n']} sentences of {r['file']}, {r['folds']}-fold, mean accuracy): "
                  f"lab default ({r['default'][0]['model']}) {_pct(m['default'])}, TF-IDF + LR {_pct(m['tfidf_lr'])}"
                  + (f", wordllama mean-pooled + LR {_pct(m['wordllama_lr'])}" if m["wordllama_lr"] is not None
                     else " (wordllama not installed: no embedding row)") + "."]
    d = report.get("distillation")
    if d:
        lines += ["", f"Distillation on builtin:digits ({d['epochs']} epochs each, T = {d['temperature']:g}, "
                  f"true-label weight {d['alpha']:g}):", "", "| run | model | parameters | val acc | time |",
                  "|---|---|---|---|---|"]
        lines += [f"| {name} | {r['model']} | {r['params']:,} | {_pct(r['val_acc'])} | {r['seconds']:.0f} s |"
                  for name, r in d["rows"].items()]
        rb = d.get("robustness")
        if rb:
            te, de = rb["teacher"], rb["defensive"]
            lines += ["", f"Accuracy at eps {rb['eps']:g} on {rb['n']} validation digits (clean / FGSM / PGD): teacher "
                      f"{_pct(te['clean'])} / {_pct(te['fgsm'])} / {_pct(te['pgd'])}; defensively distilled "
                      f"{_pct(de['clean'])} / {_pct(de['fgsm'])} / {_pct(de['pgd'])}; FGSM crafted on the undistilled "
                      f"teacher and applied to the distilled model: {_pct(de['fgsm_from_teacher'])} (gradient masking "
                      "would show as white-box attacks failing on the distilled model while the transferred one "
                      "still works)."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", help="more data folders (their default model vs the baseline)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (the target is for 2 cores)")
    parser.add_argument("--no-photos", action="store_true", help="skip the generated photo set")
    parser.add_argument("--no-text-models", action="store_true", help="skip the text model comparison")
    parser.add_argument("--no-builtin", action="store_true", help="skip the built-in sets (photos and folders only)")
    parser.add_argument("--real-text", metavar="FILE", help="a real labelled text file: k-fold lab default vs TF-IDF + "
                        "LR (and wordllama + LR when installed); nothing is downloaded, so bring the file")
    parser.add_argument("--folds", type=int, default=5, help="folds of --real-text (default 5)")
    parser.add_argument("--wordllama", metavar="DIR", help="a folder with wordllama's weights/ and tokenizers/ "
                        "(default: the installed wordllama package)")
    parser.add_argument("--no-distillation", action="store_true", help="skip the distillation rows")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    runs = tempfile.mkdtemp(prefix="bench-quality-runs-")
    sets = [] if args.no_builtin else [(s, s, False) for s in BUILTIN]
    photos = None
    if not args.no_photos:
        photos = str(make_photo_set(Path(tempfile.gettempdir()) / "dllab-bench-photos"))
        sets.append((photos, "photos (scikit-image crops, 7 classes)", True))
    sets += [(f, f, True) for f in args.folders]
    report = {"threads": args.threads, "load_average_at_start": os.getloadavg()[0], "sets": []}
    for source, label, is_photos in sets:
        default = default_run(source, runs)
        photos_here = is_photos and default["model"] == "efficientnet_lite0"
        base = baseline(source, photos_here, default["data_opts"])
        report["sets"].append({"source": source, "label": label, "default": default, "baseline": base})
        print(f"{label}: {default['model']} {_pct(default['val_acc'])} in {default['seconds']:.0f} s; "
              f"baseline {_pct(base['val_acc'])} in {base['seconds']:.0f} s", flush=True)
    if photos:
        report["caching"] = caching_speed(photos)
    if not args.no_text_models:
        report["text_models"] = text_models(runs)
    if args.real_text:
        report["real_text"] = real_text(args.real_text, runs, args.folds, args.wordllama)
    if not args.no_distillation:
        report["distillation"] = distillation(runs)
    report["load_average_at_end"] = os.getloadavg()[0]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_quality.json").write_text(json.dumps(report, indent=2, default=str))
    (RESULTS / "bench_quality.md").write_text(markdown(report))
    print(markdown(report))
    return report


if __name__ == "__main__":
    main()
