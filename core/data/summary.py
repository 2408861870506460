"""Statistics for ``DataBundle.summary()``: plain numbers and lists, JSON-serialisable, computed once at load."""
from __future__ import annotations

import statistics
from collections import Counter

import numpy as np

SMALL_AREA_RATIO = 0.25  # a class whose typical image has < 1/4 of the others' area (half the side) is flagged


def describe(values) -> dict:
    """min / median / mean / p95 / max of a list of numbers (zeros when empty)."""
    if len(values) == 0:
        return {"min": 0, "median": 0, "mean": 0, "p95": 0, "max": 0}
    a = np.asarray(values, dtype=float)
    return {"min": _num(a.min()), "median": _num(np.median(a)), "mean": round(float(a.mean()), 3),
            "p95": _num(np.percentile(a, 95)), "max": _num(a.max())}


def histogram(values, bins: int = 30) -> dict:
    """``{"edges": [...], "counts": [...]}`` of ``values`` (so a chart needs no raw data)."""
    if len(values) == 0:
        return {"edges": [], "counts": []}
    a = np.asarray(values, dtype=float)
    if np.all(a == np.round(a)) and a.max() - a.min() < 2 * bins:  # small integers: one bin per value
        bins = np.arange(a.min(), a.max() + 2) - 0.5
    counts, edges = np.histogram(a, bins=bins)
    return {"edges": [round(float(e), 4) for e in edges], "counts": [int(c) for c in counts]}


def _num(x):
    x = float(x)
    return int(x) if x.is_integer() else round(x, 4)


def small_classes(median_sizes: dict[str, tuple[float, float]], ratio: float = SMALL_AREA_RATIO) -> list[dict]:
    """Classes whose median image area is below ``ratio`` x the median of the other classes' median areas."""
    out = []
    for name, (w, h) in median_sizes.items():
        others = [ow * oh for other, (ow, oh) in median_sizes.items() if other != name]
        if others and w * h < ratio * statistics.median(others):
            out.append({"class": name, "median_width": w, "median_height": h,
                        "area_ratio": round(w * h / statistics.median(others), 4)})
    return out


def _bands(mode: str) -> int:
    from PIL import Image

    try:
        return Image.getmodebands(mode)
    except (KeyError, ValueError):
        return 0


def image_stats(classes: list[str], records, size: int, channels: int) -> dict:
    """Width/height/mode distribution per class (from headers), and classes with much smaller images."""
    per_class, medians = {}, {}
    for ci, name in enumerate(classes):
        rs = [r for r in records if r.target == ci]
        if not rs:
            continue
        widths, heights = [r.width for r in rs], [r.height for r in rs]
        sizes = Counter((r.width, r.height) for r in rs).most_common(300)
        per_class[name] = {"n": len(rs), "width": describe(widths), "height": describe(heights),
                           "modes": dict(Counter(r.mode for r in rs)), "sizes": [[w, h, n] for (w, h), n in sizes],
                           "channels": {str(k): v for k, v in sorted(Counter(_bands(r.mode) for r in rs).items())}}
        medians[name] = (statistics.median(widths), statistics.median(heights))
    return {"image_size": size, "channels": channels, "images": per_class, "small_classes": small_classes(medians)}


def audio_stats(classes: list[str], records, sample_rate: int, clip_seconds: float) -> dict:
    """Durations per class, and the original sample rates / channel counts / encodings (from headers)."""
    per_class = {}
    for ci, name in enumerate(classes):
        d = [r.frames / r.sample_rate for r in records if r.target == ci]
        if d:
            per_class[name] = {"n": len(d), "duration": describe(d)}
    durations = [r.frames / r.sample_rate for r in records]
    out = {"sample_rate": sample_rate, "clip_seconds": clip_seconds, "audio": per_class,
           "durations": describe(durations), "duration_histogram": histogram(durations),
           "original_sample_rates": {str(k): v for k, v in sorted(Counter(r.sample_rate for r in records).items())},
           "original_channels": {str(k): v for k, v in sorted(Counter(r.channels for r in records).items())},
           "encodings": dict(Counter(r.subtype for r in records))}
    if len(records) <= 5000:  # small enough to ship every duration for a per-class chart
        out["durations_by_class"] = {name: [round(r.frames / r.sample_rate, 3) for r in records if r.target == ci]
                                     for ci, name in enumerate(classes)}
    return out


def upsampled_note(stats: dict) -> str | None:
    """A sentence when some clips were recorded below the rate they were resampled to (``audio_stats`` output):
    they hold nothing above half their own rate, so the spectrogram's bands above that are empty. None otherwise.

    >>> upsampled_note({"sample_rate": 16000, "original_sample_rates": {"8000": 30}})[:40]
    'All 30 clips were recorded at 8000 Hz an'
    """
    target = int(stats.get("sample_rate") or 0)
    low = {int(r): n for r, n in (stats.get("original_sample_rates") or {}).items() if int(r) < target}
    if not low:
        return None
    rate, total = min(low), sum((stats.get("original_sample_rates") or {}).values())
    n = sum(low.values())
    who = f"All {n} clips were" if n == total else f"{n} of {total} clips were"
    return (f"{who} recorded at {rate} Hz and resampled to {target} Hz: they hold nothing above {rate // 2} Hz "
            f"(half their own rate), so the mel bands above {rate // 2} Hz stay empty for them.")


VOCAB_SIZES = (10, 25, 50, 100, 150, 250, 500, 1000, 2000, 5000, 10000, 20000, 50000)


def _is_content(token: str) -> bool:
    from spacy.lang.en.stop_words import STOP_WORDS

    return token.isalpha() and token not in STOP_WORDS


def text_stats(classes, train_tokens, train_targets, val_tokens, vocab, max_vocab: int) -> dict:
    """Token lengths, vocabulary size vs max size (coverage, val OOV), top tokens per class, val OOV rate."""
    counts = Counter(t for tokens in train_tokens for t in tokens)
    ranked = [c for _, c in counts.most_common()]
    total = sum(ranked) or 1
    val_counts = Counter(t for tokens in val_tokens for t in tokens)
    val_total = sum(val_counts.values()) or 1
    rank_of = {t: r for r, (t, _) in enumerate(counts.most_common())}
    curve = []
    for size in sorted({s for s in VOCAB_SIZES if s < len(counts) + 2} | {min(max_vocab, len(counts) + 2)}):
        kept = max(0, size - 2)
        val_oov = sum(c for t, c in val_counts.items() if rank_of.get(t, kept) >= kept)
        curve.append({"max_size": size, "vocab_size": min(size, len(counts) + 2),
                      "train_coverage": round(sum(ranked[:kept]) / total, 4),
                      "val_oov_rate": round(val_oov / val_total, 4)})
    top = {}
    for ci, name in enumerate(classes):
        c = Counter(t for tokens, y in zip(train_tokens, train_targets) if y == ci for t in tokens if _is_content(t))
        top[name] = [[t, n] for t, n in c.most_common(15)]
    lengths = [len(t) for t in train_tokens] + [len(t) for t in val_tokens]
    val_oov = sum(c for t, c in val_counts.items() if t not in vocab.stoi)
    return {"token_lengths": describe(lengths), "token_length_histogram": histogram(lengths),
            "vocab_size": len(vocab), "max_vocab": max_vocab, "distinct_train_tokens": len(counts),
            "val_oov_rate": round(val_oov / val_total, 4), "vocab_curve": curve, "top_tokens": top}


IMBALANCE_WARN = 3.0  # warn when the largest class has this many times the samples of the smallest
OOV_WARN = 0.05  # warn when more than this share of validation tokens is unknown to the vocabulary


def balance_warnings(summary: dict) -> list[str]:
    """Plain-language warnings about class counts (imbalance, empty classes) and, for text, a high OOV rate."""
    out = []
    imb = summary.get("imbalance")
    train = summary["counts"]["train"]
    if imb is None:
        empty = [c for c, n in train.items() if n == 0]
        out.append(f"no training samples for {', '.join(map(repr, empty))}")
    elif imb >= IMBALANCE_WARN:
        big, small = max(train, key=train.get), min(train, key=train.get)
        out.append(f"class imbalance: {big!r} has {imb:.1f}x the training samples of {small!r} "
                   f"({train[big]} vs {train[small]}); consider a weighted loss or resampling")
    if summary.get("val_oov_rate", 0) > OOV_WARN:
        out.append(f"{summary['val_oov_rate']:.0%} of validation tokens are not in the vocabulary")
    return out


def size_warnings(summary: dict) -> list[str]:
    """A warning naming each class whose images are much smaller than the other classes' images."""
    return [f"class {x['class']!r} has much smaller images (median {x['median_width']:g}x{x['median_height']:g} px, "
            f"{x['area_ratio']:.0%} of the other classes' area): upscaling blurs them and the model may learn "
            "resolution instead of content" for x in summary.get("small_classes", [])]


def warnings(summary: dict) -> list[str]:
    """All plain-language warnings about a summary (what ``inspect`` prints and the Datasets page shows)."""
    return balance_warnings(summary) + size_warnings(summary)
