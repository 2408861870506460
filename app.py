"""Home: what each page is for, the device in use, the built-in data, the most recent runs."""
from pathlib import Path

import streamlit as st

from core.data import BUILTINS, builtin_ready, ensure_builtin
from core.device import describe_device
from core.settings import load_settings
from core.train.store import list_runs
from ui.runs import runs_table

st.set_page_config(page_title="Deep-learning lab", page_icon="🧪", layout="wide")

PAGES = [  # (page file, what it is for)
    ("pages/1_Datasets.py", "Explore a dataset: class balance, samples, image sizes, audio (waveform, mel, playback), text statistics."),
    ("pages/2_Augment.py", "Tune augmentations by eye (images, spectrograms, audio, text, mixup) and hand them to training."),
    ("pages/3_LR_Finder.py", "Find a learning rate with a range test; see how much to trust the suggestion; use it for training."),
    ("pages/4_Train.py", "Train image, audio and text models by clicking; live loss, accuracy and activation statistics; results."),
    ("pages/5_GAN.py", "Train a GAN live (1010 pattern, ring of 8 Gaussians, images), watch for mode collapse, walk between seeds."),
    ("pages/6_Adversarial.py", "Attack a trained model (FGSM, BIM, PGD): epsilon slider, smallest epsilon, accuracy versus epsilon, robustness of several runs."),
]

st.title("Deep-learning lab")
st.caption("Point-and-click PyTorch for learning and teaching. Everything here also works offline on built-in data.")

for path, purpose in PAGES:
    if not Path(__file__).with_name("pages").joinpath(Path(path).name).exists():
        continue  # a page not built yet in this checkout
    st.page_link(path, label=f"**{path.split('_', 1)[1][:-3].replace('_', ' ')}** — {purpose}")

settings = load_settings()
left, right = st.columns(2)
with left:
    st.subheader("Device")
    st.write(f"Computing on **{describe_device()}**.")
    st.subheader("Built-in data")
    st.caption(f"Generated on first use into `{settings.cache_dir}`; nothing is downloaded.")
    for name, description in BUILTINS.items():
        mark = "✅ ready" if builtin_ready(name) else "⏳ made on first use"
        st.write(f"`builtin:{name}` — {description} · {mark}")
    if not all(builtin_ready(n) for n in BUILTINS) and st.button("Prepare all built-in data now"):
        with st.spinner("Writing the built-in data sets…"):
            for name in BUILTINS:
                ensure_builtin(name)
        st.rerun()
with right:
    st.subheader("Recent runs")
    runs = list_runs(settings.runs_dir)[:8]
    if runs:
        st.dataframe(runs_table(runs), hide_index=True, width="stretch")
        st.page_link("pages/4_Train.py", label="All runs, live view and results →")
    else:
        st.info(f"No runs yet in `{settings.runs_dir}`. Start one on the Train page or with `./lab core train`.")
