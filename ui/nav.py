"""The lab's pages, once: the navigation (st.navigation), the home page's list, and the links between pages.

Adding a page is one entry in ``PAGES``: its file under ``pages/``, its icon and what it is for. Its title and URL
come from the file name (``3_LR_Finder.py`` -> "LR Finder" at ``/LR_Finder``); a file not in this checkout yet is
left out.

Every page script starts with ``navigation()`` as well as app.py: Streamlit treats an app with a ``pages/`` folder as
an old-style multipage app until some script calls ``st.navigation``, so a link straight to a page, opened first
after the server started, would otherwise show the old sidebar (the home page called "app", no icons).
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui.home import home

ROOT = Path(__file__).resolve().parents[1]
HOME = ("Home", "🧪")  # the home page's title and icon (drawn by ui.home.home)
PAGES = [  # (file under pages/, icon, what it is for)
    ("1_Datasets.py", "🗂️", "Explore a dataset: class balance, samples, image sizes, audio (waveform, mel, playback), "
                           "text statistics."),
    ("2_Augment.py", "🎨", "Tune augmentations by eye (images, spectrograms, audio, text, mixup) and hand them to "
                          "training."),
    ("3_LR_Finder.py", "📉", "Find a learning rate with a range test; see how much to trust the suggestion; use it "
                            "for training."),
    ("4_Train.py", "🏋️", "Train image, audio and text models by clicking; live loss, accuracy and activation "
                        "statistics; results."),
    ("5_GAN.py", "🎭", "Train a GAN live (toy patterns or images), watch for mode collapse, walk its latent "
                      "space."),
    ("6_Adversarial.py", "🎯", "Attack a trained model (FGSM, BIM, PGD): epsilon slider, smallest epsilon, accuracy "
                              "versus epsilon, robustness of several runs."),
    ("7_Inspect.py", "🔬", "Look inside a trained model: layers and receptive field, Grad-CAM, class visualisation, "
                          "export."),
    ("8_Enhance.py", "🔍", "Super-resolution: train an upsampler, beat bicubic, see checkerboards and a GAN critic; "
                          "enhance your own image."),
]


def title(file: str) -> str:
    """'3_LR_Finder.py' -> 'LR Finder'."""
    return Path(file).stem.split("_", 1)[-1].replace("_", " ")


def lab_pages() -> list:
    """The st.Page objects: Home first (the default), then every page of ``PAGES`` present in this checkout."""
    pages = [st.Page(_home, title=HOME[0], icon=HOME[1], default=True)]
    for file, icon, _ in PAGES:
        path = ROOT / "pages" / file
        if path.is_file():
            pages.append(st.Page(str(path), title=title(file), icon=icon, url_path=Path(file).stem.split("_", 1)[-1]))
    return pages


def _home() -> None:
    """The home page (ui.home) with a link to every page of ``PAGES`` present in this checkout."""
    present = {p.url_path: p for p in lab_pages()[1:]}
    links = [(present[_url(f)], title(f), icon, purpose) for f, icon, purpose in PAGES if _url(f) in present]
    home(links, page("4_Train.py"))


def _url(file: str) -> str:
    return Path(file).stem.split("_", 1)[-1]


def navigation():
    """Register the lab's pages with ``st.navigation`` (the sidebar) and return the page the user asked for."""
    return st.navigation(lab_pages())


def page(file: str):
    """The st.Page of ``file`` (e.g. '4_Train.py'), for st.page_link / st.switch_page."""
    url = Path(file).stem.split("_", 1)[-1]
    for p in lab_pages()[1:]:
        if p.url_path == url:
            return p
    raise KeyError(f"no page {file!r} in ui.nav.PAGES")
