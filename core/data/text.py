"""Text files as a DataBundle: sentiment140 CSV, ``sentence<TAB>label`` lines, CSV with text/label columns."""
from __future__ import annotations

import csv
from collections import Counter
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

    def __init__(self, texts: list[str], targets: list[int], vocab: Vocab, max_len: int = 256, tokens=None,
                 sources: list[str] | None = None):
        self.texts = list(texts)  # raw strings (what transform gets)
        self.targets = list(targets)
        self.sources = list(sources) if sources is not None else None  # the file each text came from (or None)
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
        raise NotTextData(path, "empty")
    ti, li = _column(rows[0], TEXT_COLUMNS), _column(rows[0], LABEL_COLUMNS)
    if ti is not None and li is not None:
        fmt, body, start = "csv", rows[1:], 2
    elif len(rows[0]) == 6 and rows[0][0].strip().lstrip("-").isdigit():
        fmt, body, start, ti, li = "sentiment140", rows, 1, 5, 0
    else:
        raise NotTextData(path, "cannot tell which column is the text and which the label")
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


class NotTextData(DataError):
    """A file that is not in any supported text layout; ``reason`` says why in a few words (for skip lists)."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: {reason}; expected {LAYOUT}")
        self.reason = reason


def read_rows(path: Path) -> TextRows:
    """Read one text file in any supported layout; bad lines are skipped and listed (``file:line``)."""
    if path.stat().st_size == 0:
        raise NotTextData(path, "a zero-byte file")
    lines, fallback = _decode_lines(path)
    is_tsv = path.suffix.lower() == ".tsv" or (path.suffix.lower() == ".txt" and any("\t" in ln for ln in lines[:50]))
    if not is_tsv and path.suffix.lower() == ".txt":
        raise NotTextData(path, "no tab-separated labels (not 'sentence<TAB>label' lines)")
    texts, labels, skipped, fmt = (_read_tsv if is_tsv else _read_csv)(path, lines)
    return TextRows(texts, labels, skipped, fmt, fallback)


def _read_folder(root: Path) -> tuple[list[tuple[str, str, str, str]], list[TextRows]]:
    """Class folders of .txt files, one text per file (``root/pos/1.txt``, as in IMDB's aclImdb); the parent folder
    is the label and a ``train/``/``val/``/``test/`` folder above it, when present, the split."""
    rows, skipped, fallback = [], [], 0
    for split, folder in (split_folders(root) or {"all": root}).items():
        for label, paths in class_files(folder, {".txt"}).items():
            for p in paths:
                lines, bad = _decode_lines(p)
                text = " ".join(ln.strip() for ln in lines).strip()
                if text:
                    rows.append((text, label, split, p.name))
                else:
                    skipped.append(Skipped(str(p), "empty text file"))
                fallback += bool(bad)
    return rows, [TextRows([r[0] for r in rows], [r[1] for r in rows], skipped, "folders", fallback)]


def _split_files(root: Path) -> dict[str, list[Path]]:
    """split -> files: ``train.tsv``/``val.csv``/``test.txt``-style files in a folder, else every text file of the
    folder as one pool ('all', split later). Hidden files are not data."""
    files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES
                   and not p.name.startswith("."))
    named = {SPLIT_NAMES[p.stem.lower()]: [p] for p in files if p.stem.lower() in SPLIT_NAMES}
    return named or ({"all": files} if files else {})


def _read_files(files: dict[str, list[Path]], progress: Progress | None):
    """Rows ``(text, label, split, file name)`` of every readable file, one TextRows per file read, and the files
    skipped with their reason: not in a text layout (a readme), or in another layout than the rest of the folder
    (the most common layout wins: several files of one layout are one data set, as in 'Sentiment Labelled
    Sentences', whose three ``sentence<TAB>label`` files sit beside a readme.txt)."""
    read, skipped = [], []
    flat = [(split, f) for split, fs in files.items() for f in fs]
    for i, (split, f) in enumerate(flat):
        if progress:
            progress(i, len(flat), f"reading {f.name}")
        try:
            read.append((split, f, read_rows(f)))
        except NotTextData as err:
            if len(flat) == 1:
                raise
            skipped.append(Skipped(str(f), err.reason))
    if not read:
        raise DataError("none of the text files here is in a supported layout: "
                        + "; ".join(f"{Path(s.path).name} ({s.reason})" for s in skipped) + f". Expected {LAYOUT}")
    main = Counter(part.fmt for _, _, part in read).most_common(1)[0][0]
    rows, parts = [], []
    for split, f, part in read:
        if part.fmt != main:
            skipped.append(Skipped(str(f), f"a {part.fmt} file; the other files here are {main} files"))
            continue
        parts.append(part)
        rows += [(t, lab, split, f.name) for t, lab in zip(part.texts, part.labels)]
    return rows, parts, skipped


def _gather(path: Path, progress: Progress | None):
    """(text, label, split, source file) rows from a file, a folder of text files or class folders; each file's
    TextRows (files skipped whole, with the reason, in a part of their own that has no rows)."""
    files = _split_files(path) if path.is_dir() else {"all": [path]}
    if not files:
        return _read_folder(path)
    rows, parts, skipped = _read_files(files, progress)
    return rows, ([TextRows([], [], skipped, parts[0].fmt, 0)] if skipped else []) + parts


def _tokenize_with_progress(texts: list[str], split: str, progress: Progress | None, chunk: int = 5000):
    out = []
    for start in range(0, len(texts), chunk):
        if progress:
            progress(start, len(texts), f"tokenising {split}")
        out += tokenize_many(texts[start:start + chunk])
    return out


def text_rows(path: Path, val_fraction: float = 0.2, seed: int = 0, progress: Progress | None = None):
    """The rows of a text source and their split, before any tokenising: ``(rows, parts, classes, targets,
    split -> row indices)``; what ``load_text`` builds on and what ``core.data.index`` counts. A row is
    ``(text, label, split, source file)``; the files skipped whole are in ``parts`` (a part without rows)."""
    rows, parts = _gather(path, progress)
    classes = sorted({row[1] for row in rows})
    if len(classes) < 2:
        what = f"only one label ({classes[0]!r})" if classes else "no labelled text"
        raise DataError(f"{path}: {what} found; a classifier needs at least two labels. Expected {LAYOUT}")
    targets = [classes.index(row[1]) for row in rows]
    splits_of = [row[2] for row in rows]
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
    splits = {n: TextDataset([rows[i][0] for i in ix], [targets[i] for i in ix], vocab, max_len, tokens[n],
                             sources=[rows[i][3] for i in ix])
              for n, ix in idx.items() if ix or n != "test"}
    stats = text_stats(classes, train_tokens, [targets[i] for i in idx["train"]], val_tokens, vocab, max_vocab)
    stats["text_format"] = sorted({p.fmt for p in parts})
    stats["non_utf8_lines"] = sum(p.fallback_lines for p in parts)
    files = Counter(row[3] for row in rows)
    if len(files) > 1 and "folders" not in stats["text_format"]:  # several files read as one data set
        stats["source_files"] = dict(sorted(files.items()))
    return DataBundle("text", classes, splits, source, (), skipped=skipped, vocab=vocab, collate_fn=pad_collate,
                      stats=stats)
