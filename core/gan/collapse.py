"""Is the GAN collapsing? Measures on samples, and a verdict in plain words with what to try.

- ``toy:ring``: how many of the 8 modes are covered and the share of samples near a mode (within 3 standard
  deviations of a centre);
- images: sample diversity (mean pairwise distance of generated images over that of real ones); with a judge
  classifier, the class histogram of generated images, the classes covered and a Frechet distance;
- ``toy:1010``: one mode only, so no collapse to measure; how far the output is from ``1 0 1 0``.

A mode (or class) counts as covered when it holds at least ``COVER_SHARE`` of a fair share of the samples, so a
few stray samples do not count as covering it.

>>> ring_coverage(ring_modes()[[0, 0, 0]], ring_modes(), 0.05)[0].tolist()
[3, 0, 0, 0, 0, 0, 0, 0]
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch

from core.gan.data import PATTERN, ring_modes  # noqa: F401 - ring_modes re-exported for the doctest

COVER_SHARE = 0.2  # covered: at least 20% of a fair share (1/8 of the samples for the ring, 1/C for C classes)
NEAR_STDS = 3.0  # "near a mode": within 3 standard deviations of its centre
SAMPLES = {"points": 1024, "image": 256, "pattern": 256}  # generated samples per measurement
JUDGE_SAMPLES = 512  # generated images the judge classifies (and the Frechet distance compares)
POINT_COLLAPSE = 0.1  # ring: generated points spread less than 10% as far apart as real ones = one point
EARLY_STEPS = 1000  # no collapse verdict before this many generator steps (a DCGAN on MNIST covered 1 of 10 classes
#                     at step 200 and 10 of 10 from step 400 on), nor while the coverage is still climbing
RISING = 0.05  # the score rose by more than this since the previous measurement: still learning, not collapsed


def early_steps(total_steps: int) -> int:
    """Steps before a run's first collapse verdict: ``EARLY_STEPS``, or half of a shorter run (which then still
    gets a verdict before it ends)."""
    return min(EARLY_STEPS, max(0, int(total_steps)) // 2)


def ring_coverage(points: torch.Tensor, modes: torch.Tensor, std: float) -> tuple[torch.Tensor, float]:
    """Samples near each mode (K,) and the share of all samples near any mode, for points (N, 2)."""
    dist = torch.cdist(points.float(), modes.float())  # (N, K)
    nearest, which = dist.min(dim=1)
    near = nearest <= NEAR_STDS * std
    counts = torch.bincount(which[near], minlength=modes.shape[0])
    return counts, float(near.float().mean()) if len(points) else 0.0


def covered(counts: torch.Tensor, total: int) -> int:
    """How many modes / classes hold at least ``COVER_SHARE`` of a fair share of ``total`` samples."""
    k = counts.numel()
    return int((counts >= COVER_SHARE * total / k).sum()) if total else 0


def diversity(x: torch.Tensor) -> float:
    """Mean pairwise Euclidean distance between the samples of ``x`` (N, ...); 0 when they are all the same."""
    flat = x.flatten(1).double()  # (N, ...) -> (N, D)
    return float(torch.pdist(flat).mean()) if len(flat) > 1 else 0.0


@dataclass
class CollapseReport:
    """Collapse figures of one measurement, the verdict and what to try (JSON round-trip)."""

    kind: str  # 'points' | 'image' | 'pattern'
    step: int  # generator step measured at
    samples: int  # generated samples measured
    modes_total: int | None = None  # ring: 8
    modes_covered: int | None = None  # ring: modes holding a fair part of the samples
    near_mode_share: float | None = None  # ring: share of samples within 3 std of a mode
    mode_counts: list[int] | None = None  # ring: samples near each mode
    diversity: float | None = None  # images: mean pairwise distance of generated images
    real_diversity: float | None = None  # images: the same for real images
    diversity_ratio: float | None = None  # generated / real: near 1 healthy, near 0 collapsed
    classes: list[str] | None = None  # judge: its class names
    class_histogram: list[int] | None = None  # judge: generated images per predicted class
    classes_covered: int | None = None  # judge: classes holding a fair part of the generated images
    frechet_distance: float | None = None  # judge: Frechet distance on its penultimate features (lower is better)
    pattern_error: float | None = None  # toy:1010: mean |output - (1 0 1 0)|
    level: str = "ok"  # ok | warning | error: the meter's colour
    verdict: str = ""  # one sentence in plain words
    advice: list[str] = field(default_factory=list)  # what to try
    score: float = 1.0  # 0..1 for the meter (share of modes / classes covered, or the diversity ratio)

    def to_dict(self) -> dict:
        """A JSON-serialisable dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "CollapseReport":
        """Rebuild from ``to_dict()`` output."""
        return cls(**d)

    def scalars(self) -> dict[str, float]:
        """The numbers worth a time series (per-step scalars of the run)."""
        names = ("modes_covered", "near_mode_share", "diversity_ratio", "classes_covered", "frechet_distance",
                 "pattern_error")
        return {n: float(getattr(self, n)) for n in names if getattr(self, n) is not None}


def measure_points(points: torch.Tensor, modes: torch.Tensor, std: float, step: int = 0,
                   real: torch.Tensor | None = None) -> CollapseReport:
    """The ring's figures for generated points (N, 2); with ``real`` points also their spread against the data's."""
    counts, near = ring_coverage(points, modes, std)
    k = modes.shape[0]
    report = CollapseReport("points", step, len(points), modes_total=k, modes_covered=covered(counts, len(points)),
                            near_mode_share=near, mode_counts=counts.tolist())
    if real is not None:
        report.diversity, report.real_diversity = diversity(points), diversity(real)
        report.diversity_ratio = report.diversity / report.real_diversity if report.real_diversity else None
    return report


def measure_images(fake: torch.Tensor, real: torch.Tensor, step: int = 0, judge=None, metric=None,
                   judged: torch.Tensor | None = None) -> CollapseReport:
    """Diversity of generated vs real images; with a ``judge`` also the class histogram on ``judged`` (more
    generated images, default ``fake``) and, with a Frechet ``metric`` holding the real features, the distance."""
    d_fake, d_real = diversity(fake), diversity(real)
    report = CollapseReport("image", step, len(fake), diversity=d_fake, real_diversity=d_real,
                            diversity_ratio=d_fake / d_real if d_real > 0 else None)
    if judge is not None:
        from core.gan.judge import frechet_distance

        judged = fake if judged is None else judged
        hist = torch.bincount(judge.classify(judged).cpu(), minlength=len(judge.classes))
        report.classes, report.class_histogram = list(judge.classes), hist.tolist()
        report.classes_covered = covered(hist, len(judged))
        if metric is not None and len(judged) > 1:
            report.frechet_distance = frechet_distance(metric, judged)
    return report


def measure_pattern(outputs: torch.Tensor, step: int = 0) -> CollapseReport:
    """toy:1010: how far the outputs (N, 4) are from the pattern."""
    error = float((outputs.float() - torch.tensor(PATTERN)).abs().mean())
    return CollapseReport("pattern", step, len(outputs), pattern_error=error)


def judge_verdict(report: CollapseReport, improvements: dict[str, bool] | None = None,
                  lr: float | None = None, min_steps: int = 0, previous: float | None = None) -> CollapseReport:
    """Fill ``level``, ``verdict``, ``advice`` and ``score`` from the figures (plain words; see ``_advice``).

    A bad reading before step ``min_steps`` (see ``early_steps``), or one whose score rose by more than ``RISING``
    since the ``previous`` measurement's score, is not yet a verdict: level ``early``, "too early to tell", with
    what to watch (a student should not kill a run that is still finding the data)."""
    if report.kind == "pattern":
        return _pattern_verdict(report)
    if report.kind == "points":
        share, score = report.modes_covered / report.modes_total, report.modes_covered / report.modes_total
        what = f"{report.modes_covered} of {report.modes_total} modes"
        spread = report.near_mode_share
    elif report.classes_covered is not None:
        k = len(report.classes)
        share = score = report.classes_covered / k
        what = f"{report.classes_covered} of {k} classes (as the judge sees them)"
        spread = report.diversity_ratio
    else:
        share = score = min(1.0, report.diversity_ratio or 0.0)
        what = f"{share:.0%} of the real images' variety"
        spread = None
    if report.kind == "points" and (report.diversity_ratio or 1.0) < POINT_COLLAPSE:
        report.level, score = "error", 0.0
        where = "on one mode" if report.modes_covered == 1 else \
            "off the ring, between the modes" if spread < 0.25 else f"on {what}"
        report.verdict = (f"Mode collapse: whatever the seed, the generator makes (nearly) the same point "
                          f"({report.diversity_ratio:.0%} of the real points' spread), {where}.")
    elif report.kind == "points" and spread < 0.25:
        report.level = "warning"
        report.verdict = (f"Not on the data yet: only {spread:.0%} of the samples are near any of the "
                          f"{report.modes_total} modes, so there is nothing to call collapse yet.")
    elif share <= 0.25:
        report.level = "error"
        report.verdict = (f"Mode collapse: the generator covers only {what}; it makes (nearly) the same few "
                          "outputs whatever the seed.")
    elif share < 0.75:
        report.level = "warning"
        report.verdict = f"Partial collapse: the generator covers {what}; the rest of the data is missing."
    elif report.kind == "points" and spread < 0.5:
        report.level = "warning"
        report.verdict = (f"No collapse ({what}), but only {spread:.0%} of the samples sit near a mode; the rest "
                          "fall between them. It may still be learning.")
    else:
        report.level = "ok"
        near = f", {spread:.0%} of the samples near a mode" if report.kind == "points" else ""
        report.verdict = f"No sign of collapse: {what}{near}."
    report.score = float(score)
    report.advice = _advice(report, improvements or {}, lr)
    if report.level != "ok" and (report.step < min_steps or (previous is not None and score > previous + RISING)):
        _too_early(report, what, min_steps, previous)
    return report


def _too_early(report: CollapseReport, what: str, min_steps: int, previous: float | None) -> None:
    """Turn a bad reading into "too early to tell", saying why and what to watch."""
    why = (f"at step {report.step} the generator is still finding the data (a verdict comes after step {min_steps})"
           if report.step < min_steps else
           f"the coverage is still climbing (from {previous:.0%} to {report.score:.0%} since the last measurement)")
    report.level = "early"
    report.verdict = f"Too early to tell: {why}. For now it covers {what}."
    report.advice = ["Watch the chart below: a run that is learning climbs towards the dashed line over the next "
                     "few hundred steps; one that stays flat and low after that is collapsing.",
                     "Judge it then; restarting now would throw away a run that may be fine."]


def _pattern_verdict(report: CollapseReport) -> CollapseReport:
    err = report.pattern_error
    report.score = max(0.0, 1.0 - 2 * err)
    if err < 0.15:
        report.level, report.verdict = "ok", f"The generator makes 1 0 1 0 (mean distance {err:.2f})."
    else:
        report.level = "warning"
        report.verdict = (f"Not there yet: the output is {err:.2f} away from 1 0 1 0 on average. (One pattern "
                          "only, so there is no mode collapse to see here; try toy:ring for that.)")
    return report


def _advice(report: CollapseReport, improvements: dict[str, bool], lr: float | None) -> list[str]:
    if report.level == "ok":
        return []
    if report.level == "warning" and report.kind == "points" and (report.modes_covered or 0) >= 6:
        return ["Train longer: the points move onto the modes as the game settles."]
    if report.level == "warning" and report.kind == "points" and (report.near_mode_share or 0) < 0.25 \
            and report.step < 1000:
        return ["Train longer: early on the samples are still finding the data."]
    missing = [name for name, on in improvements.items() if not on]
    out = [f"Switch on {', '.join(missing)}: the improvements that are still off (each helps against collapse)."] \
        if missing else []
    lower = f" (now {lr:.1e})" if lr else ""
    out += [f"Lower the learning rates{lower}, e.g. halve them: a generator that moves too fast jumps between modes.",
            "Try another seed: once collapsed, a GAN rarely recovers, so restart rather than train longer."]
    if report.kind == "image":
        out.append("A larger batch lets the discriminator see more of the variety in each step.")
    return out
