"""The latent space: seeds -> z, walks between two z (lerp / slerp), arithmetic on z, seed books (JSON), and the
generator run on them.

A seed is an integer; its z is drawn from N(0, I) by a ``torch.Generator`` of its own, so the same seed gives the
same z in every session and process (and nothing touches the global random state).

>>> z = interpolate(z_from_seed(1, 100), z_from_seed(2, 100), 16)        # (16, 100), both ends exact
>>> combo = combine([(+1, z_from_seed(1, 100)), (-1, z_from_seed(2, 100))])
>>> round(combo.rescaled.norm().item() / typical_norm(100), 6)
1.0
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from core.models.modes import eval_mode

PARALLEL_DOT = 0.9995  # cosine above which slerp falls back to lerp (the arc is a straight line to float precision)
METHODS = ("slerp", "lerp")


def z_from_seed(seed: int, shape: int | tuple) -> torch.Tensor:
    """z ~ N(0, I) of ``shape`` (an int: a vector) drawn by a generator seeded with ``seed`` alone."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return torch.randn(shape, generator=torch.Generator().manual_seed(int(seed)))


def zs_from_seeds(seeds, shape: int | tuple) -> torch.Tensor:
    """(len(seeds), *shape): one z per seed."""
    return torch.stack([z_from_seed(s, shape) for s in seeds])


def lerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Straight-line points (1 - t) z0 + t z1 for each t (T,) -> (T, *z0.shape)."""
    t = t.view(-1, *([1] * z0.dim())).to(z0.dtype)
    return (1 - t) * z0 + t * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation (Shoemake): sin((1-t) w) / sin w * z0 + sin(t w) / sin w * z1, w the angle
    between z0 and z1; lerp when they are (nearly) parallel, where the formula divides by ~0."""
    a, b = z0.flatten().double(), z1.flatten().double()
    cos = (a @ b / (a.norm() * b.norm()).clamp_min(1e-12)).clamp(-1, 1)
    if abs(float(cos)) > PARALLEL_DOT:
        return lerp(z0, z1, t)
    omega = torch.arccos(cos)
    t = t.double().view(-1, *([1] * z0.dim()))
    out = (torch.sin((1 - t) * omega) * z0.double() + torch.sin(t * omega) * z1.double()) / torch.sin(omega)
    return out.to(z0.dtype)


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int, method: str = "slerp") -> torch.Tensor:
    """``steps`` points from ``z0`` to ``z1`` inclusive: a tensor ``[steps, *z0.shape]`` (first = z0, last = z1
    exactly). ``method``: "slerp" (along the sphere; falls back to lerp for nearly parallel z) or "lerp"."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if z0.shape != z1.shape:
        raise ValueError(f"z0 {tuple(z0.shape)} and z1 {tuple(z1.shape)} differ in shape")
    if steps < 2:
        raise ValueError("an interpolation needs at least 2 steps (its two ends)")
    t = torch.linspace(0, 1, steps)
    out = (slerp if method == "slerp" else lerp)(z0, z1, t)
    out[0], out[-1] = z0, z1  # exact ends, whatever the rounding
    return out


def typical_norm(dim: int) -> float:
    """E|z| for z ~ N(0, I_dim): sqrt(2) Gamma((d+1)/2) / Gamma(d/2), about sqrt(dim - 1/2). Samples of the prior
    sit on a thin shell of this radius."""
    return math.sqrt(2) * math.exp(math.lgamma((dim + 1) / 2) - math.lgamma(dim / 2))


RESCALE_NOTE = ("The generator was trained on z from N(0, I), which in {d} dimensions all lie close to a shell of "
                "radius {typ:.1f}. The raw result has norm {raw:.1f} ({ratio:.2f} times that), so it is {where} "
                "the generator ever saw, and the image can look exaggerated or washed out. Rescaled keeps the "
                "direction and puts it back on the shell.")


@dataclass
class Combination:
    """Seed arithmetic: the raw sum, the same direction rescaled to the prior's typical norm, and why they differ."""

    raw: torch.Tensor  # sum of coefficient * z, as in the teaching material
    rescaled: torch.Tensor  # raw * typical_norm / |raw| (raw itself when |raw| is 0)
    raw_norm: float  # |raw|
    typical_norm: float  # E|z| of the prior
    note: str  # a sentence on why raw and rescaled differ


def combine(terms) -> Combination:
    """Arithmetic on latent vectors: ``terms`` is ``[(coefficient, z), ...]``, e.g. ``[(+1, za), (-1, zb), (+1, zc)]``
    for a - b + c. Returns the raw sum and the sum rescaled to the prior's typical norm."""
    terms = list(terms)
    if not terms:
        raise ValueError("combine needs at least one (coefficient, z) term")
    shape = terms[0][1].shape
    if any(z.shape != shape for _, z in terms):
        raise ValueError("every z in combine must have the same shape")
    raw = sum(float(c) * z.float() for c, z in terms)
    d = raw.numel()
    typ, norm = typical_norm(d), float(raw.norm())
    if norm < 1e-12:
        return Combination(raw, raw.clone(), 0.0, typ, "The terms cancel out: a zero vector has no direction to "
                                                        "rescale, so both versions are the centre of the prior.")
    ratio = norm / typ
    where = "further out than almost any z" if ratio > 1.1 else "closer to the centre than almost any z" \
        if ratio < 0.9 else "about as far out as the z"
    note = RESCALE_NOTE.format(d=d, typ=typ, raw=norm, ratio=ratio, where=where)
    return Combination(raw, raw * (typ / norm), norm, typ, note)


@dataclass
class SeedBook:
    """Seeds and vectors worth keeping for a run; saved as JSON (``save`` / ``load``)."""

    run: str  # the run's id (its directory name)
    latent_dim: int  # size of every z
    seeds: list[int] = field(default_factory=list)  # integer seeds (z = z_from_seed(seed, latent_dim))
    vectors: dict[str, list[float]] = field(default_factory=dict)  # named z vectors (e.g. "a+b rescaled")

    def to_dict(self) -> dict:
        """A JSON-serialisable dict of every field."""
        return asdict(self)

    def to_json(self) -> str:
        """The book as JSON text."""
        return json.dumps(self.to_dict(), indent=1)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the book to ``path`` as JSON."""
        path = Path(path)
        path.write_text(self.to_json())
        return path

    @classmethod
    def from_json(cls, text: str | bytes) -> "SeedBook":
        """Read a book from JSON text; ``ValueError`` saying what is wrong with a malformed one."""
        try:
            d = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"not a seed file (invalid JSON: {err})") from None
        if not isinstance(d, dict) or not isinstance(d.get("latent_dim"), int):
            raise ValueError("not a seed file: expected an object with run, latent_dim, seeds and vectors")
        seeds, vectors = d.get("seeds", []), d.get("vectors", {})
        if not all(isinstance(s, int) for s in seeds):
            raise ValueError("seeds must be whole numbers")
        if not isinstance(vectors, dict) or any(not isinstance(v, list) or len(v) != d["latent_dim"]
                                                for v in vectors.values()):
            raise ValueError(f"every vector must be a list of {d['latent_dim']} numbers (the run's latent size)")
        return cls(str(d.get("run", "")), d["latent_dim"], list(seeds),
                   {str(k): [float(x) for x in v] for k, v in vectors.items()})

    @classmethod
    def load(cls, path: str | os.PathLike) -> "SeedBook":
        """Read a book from a JSON file."""
        return cls.from_json(Path(path).read_text())

    def z(self, key: int | str) -> torch.Tensor:
        """The z of a seed (int) or of a named vector (str)."""
        if isinstance(key, str):
            return torch.tensor(self.vectors[key], dtype=torch.float32)
        return z_from_seed(key, self.latent_dim)


@torch.no_grad()
def generate(generator_net: torch.nn.Module, z: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """The generator's output for each z (N, latent), in eval mode, on the network's device; returned on the CPU."""
    device = next(generator_net.parameters()).device
    with eval_mode(generator_net):
        return torch.cat([generator_net(chunk.to(device)).cpu() for chunk in z.split(batch)])
