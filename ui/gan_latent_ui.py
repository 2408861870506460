"""The latent space of a trained (or training) GAN: gallery of seeds, the A -> B slider (lerp / slerp), seed
arithmetic (raw and rescaled), GIF / grid PNG downloads, save / load seeds. The generator comes from a shared,
read-only cache keyed by the run and its checkpoint's modification time, so moving a slider only runs the
generator on a few z."""
from __future__ import annotations

from pathlib import Path

import streamlit as st
import torch

from core.gan.checkpoint import LAST, generator_input, load_generator
from core.gan.latent import METHODS, SeedBook, combine, generate, interpolate, z_from_seed, zs_from_seeds
from core.gan.render import gif_bytes, grid_image, grid_png, images
from ui import gan_figures as gf

MAX_SEED_FILE = 1 << 20  # bytes: a seed book larger than this is refused
OPERATIONS = {"A + B": [(1, "A"), (1, "B")], "A − B": [(1, "A"), (-1, "B")],
              "A − B + C": [(1, "A"), (-1, "B"), (1, "C")]}


@st.cache_resource(max_entries=8, show_spinner="Loading the generator…")
def cached_generator(run_dir: str, checkpoint_mtime: float):
    """(generator in eval mode, GeneratorInfo) of a run's checkpoint; shared by sessions, only ever read
    (``generate`` runs it under no_grad in eval mode). A new checkpoint (new mtime) loads afresh."""
    return load_generator(run_dir)


def _outputs(g, info, z: torch.Tensor) -> torch.Tensor:
    return generate(g, generator_input(info, z))


def _book(key: str, info) -> SeedBook | None:
    book = st.session_state.get(f"{key}-book")
    return book if book is not None and book.latent_dim == info.latent_dim else None


def _options(key: str, info, gallery: list[int]) -> list:
    """What A, B and C can be: the gallery's seeds, a loaded book's seeds and its named vectors."""
    book = _book(key, info)
    seeds = list(dict.fromkeys(gallery + (book.seeds if book else [])))
    return seeds + ([f"vector: {n}" for n in book.vectors] if book else [])


def _z(key: str, info, option) -> torch.Tensor:
    if isinstance(option, str):
        return _book(key, info).z(option.split(": ", 1)[1])
    return z_from_seed(int(option), info.latent_dim)


def _show(info, out: torch.Tensor, labels: list[str], where, title: str, key: str) -> None:
    """Generated outputs: images with captions, ring points, or 1010 heat strips."""
    if info.kind == "image":
        pics = images(out)
        cols = where.columns(min(8, len(pics)))
        for i, (pic, label) in enumerate(zip(pics, labels)):
            cols[i % len(cols)].image(pic, caption=label)
    elif info.kind == "points":
        where.plotly_chart(gf.points_figure(out.numpy(), labels, title), key=key, width="stretch")
    else:
        where.plotly_chart(gf.values_figure(out.numpy(), labels, title), key=key, width="stretch")


def _gallery(g, info, key: str) -> list[int]:
    c = st.columns(2)
    first = int(c[0].number_input("First seed", 0, 2**31 - 64, 0, key=f"{key}-first"))
    count = int(c[1].number_input("Seeds", 4, 64, 16, step=4, key=f"{key}-count"))
    seeds = list(range(first, first + count))
    out = _outputs(g, info, zs_from_seeds(seeds, info.latent_dim))
    _show(info, out, [f"seed {s}" for s in seeds], st, "Gallery", f"{key}-gal")
    return seeds


@st.fragment
def _walk(g, info, key: str, options: list) -> None:
    """A -> B: moving the slider reruns only this fragment (the generator on ``steps`` z), not the page."""
    c = st.columns(4)
    a = c[0].selectbox("A", options, index=0, key=f"{key}-a")
    b = c[1].selectbox("B", options, index=min(1, len(options) - 1), key=f"{key}-b")
    steps = int(c[2].number_input("Frames", 2, 64, 16, key=f"{key}-steps"))
    method = c[3].radio("Path", METHODS, horizontal=True, key=f"{key}-method",
                        help="slerp: along the sphere where N(0, I) samples live; lerp: the straight line (its "
                             "middle is closer to the centre than any sample the generator saw)")
    path = interpolate(_z(key, info, a), _z(key, info, b), steps, method)  # (steps, latent)
    frames = _outputs(g, info, path)
    t = st.slider("A → B", 0, steps - 1, 0, key=f"{key}-t", help="regenerates from the cached generator")
    st.caption(f"frame {t + 1} of {steps}: {t / (steps - 1):.0%} of the way from A ({a}) to B ({b}), {method}")
    if info.kind == "image":
        left, right = st.columns([1, 3])
        left.image(images(frames[t:t + 1], scale=max(1, 192 // frames.shape[-1]))[0], caption="now")
        right.image(grid_image(frames, nrow=min(8, steps)), caption="the whole walk", width="stretch")
        d = st.columns(2)
        d[0].download_button("Download GIF", gif_bytes(frames, bounce=True), f"{info.run}-{a}-{b}-{method}.gif",
                             "image/gif", key=f"{key}-gif")
        d[1].download_button("Download grid PNG", grid_png(frames, nrow=min(16, steps)),
                             f"{info.run}-{a}-{b}-{method}.png", "image/png", key=f"{key}-png")
    elif info.kind == "points":
        from ui.gan_ui import ring_sample

        st.plotly_chart(gf.walk_figure(frames.numpy(), t, ring_sample()), key=f"{key}-walkfig", width="stretch")
    else:
        st.plotly_chart(gf.values_figure(frames.numpy()[t:t + 1], [f"frame {t + 1}"], "Output now"),
                        key=f"{key}-walkvals", width="stretch")


@st.fragment
def _arithmetic(g, info, key: str, options: list) -> None:
    """A + B, A - B, A - B + C: raw and rescaled, side by side; the results go into the seed file as vectors."""
    op = st.radio("Operation", list(OPERATIONS), horizontal=True, key=f"{key}-op")
    c = st.columns(3)
    picks = {"A": c[0].selectbox("A", options, key=f"{key}-ara"),
             "B": c[1].selectbox("B", options, index=min(1, len(options) - 1), key=f"{key}-arb")}
    if "C" in op:
        picks["C"] = c[2].selectbox("C", options, index=min(2, len(options) - 1), key=f"{key}-arc")
    combo = combine([(coef, _z(key, info, picks[name])) for coef, name in OPERATIONS[op]])
    parts = [_z(key, info, picks[n]) for n in picks]
    out = _outputs(g, info, torch.stack(parts + [combo.raw, combo.rescaled]))
    labels = list(picks) + [f"{op} raw (|z| {combo.raw_norm:.1f})", f"{op} rescaled (|z| {combo.typical_norm:.1f})"]
    _show(info, out, labels, st, op, f"{key}-arfig")
    st.info(combo.note)
    seeds = [p for p in picks.values() if not isinstance(p, str)]
    book = SeedBook(info.run, info.latent_dim, seeds, {f"{op} raw": combo.raw.tolist(),
                                                       f"{op} rescaled": combo.rescaled.tolist()})
    st.download_button("Save these seeds and both results (JSON)", book.to_json(), f"{info.run}-arithmetic.json",
                       "application/json", key=f"{key}-arsave")


def _seed_files(info, key: str, seeds: list[int]) -> None:
    book = _book(key, info)
    kept = SeedBook(info.run, info.latent_dim, list(dict.fromkeys(seeds + (book.seeds if book else []))),
                    dict(book.vectors) if book else {})
    st.download_button("Save seeds (JSON)", kept.to_json(), f"{info.run}-seeds.json", "application/json",
                       key=f"{key}-save", help="the gallery's seeds and whatever was loaded; the Arithmetic tab "
                                               "saves its results as vectors")
    upload = st.file_uploader("Load seeds (JSON)", type=["json"], key=f"{key}-load")
    if upload is None:
        return
    data = upload.getvalue()
    try:
        if len(data) > MAX_SEED_FILE:
            raise ValueError(f"the file is {len(data) // 1024} KB; a seed file is at most {MAX_SEED_FILE // 1024} KB")
        loaded = SeedBook.from_json(data)
        if loaded.latent_dim != info.latent_dim:
            raise ValueError(f"its vectors have {loaded.latent_dim} numbers; this generator takes {info.latent_dim}")
    except ValueError as err:
        st.error(f"Cannot use {upload.name}: {err}")
        return
    st.session_state[f"{key}-book"] = loaded
    st.success(f"Loaded {len(loaded.seeds)} seeds and {len(loaded.vectors)} vectors from {upload.name}"
               + (f" (saved from run {loaded.run})" if loaded.run and loaded.run != info.run else "")
               + "; they are in the A / B / C menus.")


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _follow(ckpt: Path, shown: float | None) -> None:
    """While the run trains: re-read the checkpoint's time every poll and rerun the page when a new one is saved,
    so this section follows the run like its live view (it sits outside the live view's fragment)."""
    from ui.jobs import POLL_SECONDS

    @st.fragment(run_every=POLL_SECONDS)
    def _poll() -> None:
        if _mtime(ckpt) != shown:
            st.rerun(scope="app")

    _poll()


def latent_explorer(run_dir: str | Path, key: str = "lat", active: bool = False) -> None:
    """Gallery, A -> B walk, arithmetic and seed files of a GAN run's latest checkpoint; with ``active`` (the run
    still training) the section redraws by itself when the run saves a new checkpoint."""
    ckpt = Path(run_dir) / "checkpoints" / LAST
    if active:
        _follow(ckpt, _mtime(ckpt))
    if not ckpt.is_file():
        st.info("No checkpoint yet: the latent space can be explored once the run has saved its networks"
                + (" (this section appears by itself when it has)." if active else "."))
        return
    try:
        g, info = cached_generator(str(run_dir), ckpt.stat().st_mtime)
    except (OSError, RuntimeError, ValueError, KeyError) as err:
        st.warning(f"Could not load this run's generator: {err}")
        return
    st.caption(f"The generator after {info.step} steps; each seed is a z of {info.latent_dim} numbers from N(0, I).")
    if info.constant_input:
        out = _outputs(g, info, torch.zeros(1, info.latent_dim))
        _show(info, out, ["any seed"], st, "The generator's output", f"{key}-const")
        st.info("This generator is fed the constant 0.5 (as in the exercise), so every seed gives the same output. "
                "Train with 'Random noise input' on to walk a latent space.")
        return
    tabs = st.tabs(["Gallery", "A → B", "Arithmetic", "Save / load seeds"])
    with tabs[0]:
        seeds = _gallery(g, info, key)
    options = _options(key, info, seeds)
    with tabs[1]:
        _walk(g, info, key, options)
    with tabs[2]:
        _arithmetic(g, info, key, options)
    with tabs[3]:
        _seed_files(info, key, seeds)

