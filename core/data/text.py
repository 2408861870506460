"""Text files as a DataBundle: sentiment140 CSV, ``sentence<TAB>label`` lines, CSV with text/label columns."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from core.data.bundle import DataBundle, DataError, Progress, Skipped
from core.data.layout import SPLIT_NAMES, class_files, split_folders, stratified_split
from core.data.summary import text_stats
from core.data.vocab import Vocab, pad_collate, tokenize, tokenize_many

__all__ = ["Vocab", "TextDataset", "load_text", "read_rows", "pad_collate", "tokenize"]

TEXT_SUFFIXES = {".csv", ".tsv", ".txt"}
LAYOUT = ("a sentiment140-style CSV (no header; label in column 0, text in column 5), a .tsv/.txt file of "
          "'sentence<TAB>label' lines, a CSV with 'text' and 'label' columns, a folder of train/val/test files, "
          "or class folders of .txt files (one text per file)")
TEXT_COLUMNS = ("text", "sentence", "review", "content", "tweet")
LABEL_COLUMNS = ("label", "sentiment", "target", "class", "polarity")
SENTIMENT140 = {"0": "negative", "2": "neutral", "4": "positive"}


@dataclass
class TextRows:
    """What a text file held: texts, their label strings, lines that were skipped, and how it was decoded."""

    texts: list[str]
    labels: list[str]
    skipped: list[Skipped]
    fmt: str  # 'sentiment140' | 'tsv' | 'csv'
    fallback_lines: int  # lines that were not UTF-8 and were decoded as cp1252/latin-1


class TextDataset(Dataset):
    """Yields ``(ids, y)``: ids LongTensor (L,) of token ids (at most ``max_len``), after ``transform(text)``."""

    def __init__(self, texts: list[str], targets: list[int], vocab: Vocab, max_len: int = 256, tokens=None):
        self.texts = list(texts)  # raw strings (what transform gets)
        self.targets = list(targets)
        self.vocab = vocab
        self.max_len = max_len
        self.transform = None  # set by the trainer on the train split (text augmentation on the raw string)
        tokens = tokens if tokens is not None else tokenize_many(self.texts)  # already tokenised: pass them in
        self._ids = [vocab.lookup(t)[:max_len] or [vocab.unk_index] for t in tokens]

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i: int):
        if self.transform is None:
            ids = self._ids[i]
        else:
            ids = self.vocab.encode(self.transform(self.texts[i]))[:self.max_len] or [self.vocab.unk_index]
        return torch.tensor(ids, dtype=torch.long), self.targets[i]


def _decode_lines(path: Path) -> tuple[list[str], int]:
    """Lines of ``path``, each decoded as UTF-8 or, failing that, cp1252/latin-1 (sentiment140 is not all UTF-8)."""
    lines, fallback = [], 0
    for raw in path.read_bytes().splitlines():
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            fallback += 1
            try:
                lines.append(raw.decode("cp1252"))
            except UnicodeDecodeError:
                lines.append(raw.decode("latin-1"))
    if lines and lines[0].startswith("\ufeff"):
        lines[0] = lines[0][1:]
    return lines, fallback


def _read_tsv(path: Path, lines: list[str]):
    texts, labels, skipped = [], [], []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if "\t" not in line:
            skipped.append(Skipped(f"{path}:{n}", "no <TAB>label after the sentence"))
            continue
        text, label = (s.strip() for s in line.rsplit("\t", 1))
        if n == 1 and label.lower() in LABEL_COLUMNS:
            continue  # a header line
        if not text or not label:
            skipped.append(Skipped(f"{path}:{n}", "empty sentence" if not text else "empty label"))
            continue
        texts.append(text)
        labels.append(label)
    return texts, labels, skipped, "tsv"


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    lower = [h.strip().lower() for h in header]
    return next((lower.index(n) for n in names if n in lower), None)


def _read_csv(path: Path, lines: list[str]):
    rows = list(csv.reader(lines))
    if not rows:
        raise DataError(f"{path} is empty; expected {LAYOUT}")
    ti, li = _column(rows[0], TEXT_COLUMNS), _column(rows[0], LABEL_COLUMNS)
    if ti is not None and li is not None:
        fmt, body, start = "csv", rows[1:], 2
    elif len(rows[0]) == 6 and rows[0][0].strip().lstrip("-").isdigit():
        fmt, body, start, ti, li = "sentiment140", rows, 1, 5, 0
    else:
        raise DataError(f"{path}: cannot tell which column is the text and which the label; expected {LAYOUT}")
    texts, labels, skipped = [], [], []
    for n, row in enumerate(body, start):
        if not row:
            continue
        if len(row) <= max(ti, li) or not row[ti].strip() or not row[li].strip():
            skipped.append(Skipped(f"{path}:{n}", f"expected a text and a label, got {len(row)} field(s)"))
            continue
        texts.append(row[ti].strip())
        label = row[li].strip()
        labels.append(SENTIMENT140.get(label, label) if fmt == "sentiment140" else label)
    return texts, labels, skipped, fmt


def read_rows(path: Path) -> TextRows:
    """Read one text file in any supported layout; bad lines are skipped and listed (``file:line``)."""
    if path.stat().st_size == 0:
        raise DataError(f"{path} is a zero-byte file; expected {LAYOUT}")
    lines, fallback = _decode_lines(path)
    is_tsv = path.suffix.lower() == ".tsv" or (path.suffix.lower() == ".txt" and any("\t" in ln for ln in lines[:50]))
    if not is_tsv and path.suffix.lower() == ".txt":
        raise DataError(f"{path} has no tab-separated labels; expected {LAYOUT}")
    texts, labels, skipped, fmt = (_read_tsv if is_tsv else _read_csv)(path, lines)
    return TextRows(texts, labels, skipped, fmt, fallback)


def _read_folder(root: Path) -> tuple[list[tuple[str, str, str]], list[TextRows]]:
    """Class folders of .txt files, one text per file (``root/pos/1.txt``, as in IMDB's aclImdb); the parent folder
    is the label and a ``train/``/``val/``/``test/`` folder above it, when present, the split."""
    rows, skipped, fallback = [], [], 0
    for split, folder in (split_folders(root) or {"all": root}).items():
        for label, paths in class_files(folder, {".txt"}).items():
            for p in paths:
                lines, bad = _decode_lines(p)
                text = " ".join(ln.strip() for ln in lines).strip()
                if text:
                    rows.append((text, label, split))
                else:
                    skipped.append(Skipped(str(p), "empty text file"))
                fallback += bool(bad)
    return rows, [TextRows([r[0] for r in rows], [r[1] for r in rows], skipped, "folders", fallback)]


def _split_files(root: Path) -> dict[str, Path]:
    """split -> file for ``train.tsv``/``val.csv``/``test.txt``-style files in a folder (or a lone text file)."""
    files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
    named = {SPLIT_NAMES[p.stem.lower()]: p for p in files if p.stem.lower() in SPLIT_NAMES}
    if named:
        return named
    if len(files) == 1:
        return {"all": files[0]}
    if not files:
        return {}
    raise DataError(f"{root}: expected train/val/test text files or exactly one text file; found "
                    f"{len(files)} text files. Layout: {LAYOUT}")


def _gather(path: Path, progress: Progress | None) -> tuple[list[tuple[str, str, str]], list[TextRows]]:
    """(text, label, split) rows from a file, a folder of split files or class folders; plus each file's result."""
    files = _split_files(path) if path.is_dir() else {"all": path}
    if not files:
        return _read_folder(path)
    rows, parts = [], []
    for i, (split, f) in enumerate(files.items()):
        if progress:
            progress(i, len(files), f"reading {f.name}")
        parts.append(read_rows(f))
        rows += [(t, lab, split) for t, lab in zip(parts[-1].texts, parts[-1].labels)]
    return rows, parts


def _tokenize_with_progress(texts: list[str], split: str, progress: Progress | None, chunk: int = 5000):
    out = []
    for start in range(0, len(texts), chunk):
        if progress:
            progress(start, len(texts), f"tokenising {split}")
        out += tokenize_many(texts[start:start + chunk])
    return out


def text_rows(path: Path, val_fraction: float = 0.2, seed: int = 0, progress: Progress | None = None):
    """The rows of a text source and their split, before any tokenising: ``(rows, parts, classes, targets,
    split -> row indices)``; what ``load_text`` builds on and what ``core.data.index`` counts."""
    rows, parts = _gather(path, progress)
    classes = sorted({lab for _, lab, _ in rows})
    if len(classes) < 2:
        what = f"only one label ({classes[0]!r})" if classes else "no labelled text"
        raise DataError(f"{path}: {what} found; a classifier needs at least two labels. Expected {LAYOUT}")
    targets = [classes.index(lab) for _, lab, _ in rows]
    splits_of = [s for _, _, s in rows]
    if "val" not in splits_of:
        pool = [i for i, s in enumerate(splits_of) if s in ("all", "train")]
        for i, s in zip(pool, stratified_split([targets[i] for i in pool], {"val": val_fraction}, seed)):
            splits_of[i] = s
    idx = {n: [i for i, s in enumerate(splits_of) if s == n] for n in ("train", "val", "test")}
    if not idx["train"] or not idx["val"]:
        raise DataError(f"{path}: need texts for both training and validation; expected {LAYOUT}")
    return rows, parts, classes, targets, idx


def load_text(path: Path, *, source: str, max_vocab: int = 20000, min_freq: int = 1, max_len: int = 256,
              val_fraction: float = 0.2, seed: int = 0, verify: bool = True, cache_mb: int = 0,
              progress: Progress | None = None) -> DataBundle:
    """Load a text file (or a folder of split files): tokenise, build the vocabulary on train, split if needed.

    ``verify`` and ``cache_mb`` are accepted so every kind takes the same options; text is always read whole.
    """
    rows, parts, classes, targets, idx = text_rows(path, val_fraction, seed, progress)
    skipped = [s for p in parts for s in p.skipped]
    tokens = {n: _tokenize_with_progress([rows[i][0] for i in ix], n, progress) for n, ix in idx.items()}
    train_tokens, val_tokens = tokens["train"], tokens["val"]
    vocab = Vocab.build(train_tokens, max_vocab, min_freq)
    splits = {n: TextDataset([rows[i][0] for i in ix], [targets[i] for i in ix], vocab, max_len, tokens[n])
              for n, ix in idx.items() if ix or n != "test"}
    stats = text_stats(classes, train_tokens, [targets[i] for i in idx["train"]], val_tokens, vocab, max_vocab)
    stats["text_format"] = sorted({p.fmt for p in parts})
    stats["non_utf8_lines"] = sum(p.fallback_lines for p in parts)
    return DataBundle("text", classes, splits, source, (), skipped=skipped, vocab=vocab, collate_fn=pad_collate,
                      stats=stats)
