"""Text augmentations (EDA-style): synonym replacement, random insertion, deletion and swap, tracking what changed.

Words are whitespace-separated tokens; punctuation stuck to a word stays with it. Synonyms come from
``assets/synonyms.json``: a small hand-made list of common English (review) vocabulary, shipped with the lab so it
works offline. Every op draws from the ``torch.Generator`` given to ``make_params`` (a seed replays a draw) and
returns new ``Tokens`` whose words are tagged 'synonym', 'inserted' or 'swapped'; deleted words are listed in
``Tokens.deleted``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import torch

from core.augment.specs import OpSpec, ParamSpec as P, summary_line

SYNONYMS_FILE = Path(__file__).resolve().parents[2] / "assets" / "synonyms.json"
_AFFIX = re.compile(r"^(\W*)(.*?)(\W*)$", re.DOTALL)


@lru_cache(maxsize=4)
def synonyms(path: str | None = None) -> dict[str, tuple[str, ...]]:
    """word -> its synonyms (lower case), from the shipped list (or ``path``, same JSON layout: {"groups": [[...]]})."""
    groups = json.loads(Path(path or SYNONYMS_FILE).read_text())["groups"]
    table: dict[str, set[str]] = {}
    for group in groups:
        for word in group:
            table.setdefault(word.lower(), set()).update(w.lower() for w in group if w.lower() != word.lower())
    return {word: tuple(sorted(others)) for word, others in table.items() if others}


def synonyms_source() -> str:
    """One line saying where synonyms come from (shown on the page)."""
    data = json.loads(SYNONYMS_FILE.read_text())
    return f"{SYNONYMS_FILE.name}: {len(data['groups'])} groups, {len(synonyms())} words. {data['source']}"


@dataclass(frozen=True)
class Word:
    text: str  # as it appears in the output
    tag: str | None = None  # None (unchanged), 'synonym', 'inserted' or 'swapped'
    was: str | None = None  # for a synonym: the word it replaced


@dataclass
class Tokens:
    words: list[Word]  # the current sentence
    deleted: list[str] = field(default_factory=list)  # words removed so far

    @classmethod
    def from_text(cls, text: str) -> "Tokens":
        return cls([Word(w) for w in str(text).split()])

    def __str__(self) -> str:
        return " ".join(w.text for w in self.words)


def _split(word: str) -> tuple[str, str, str]:
    return _AFFIX.match(word).groups()  # (leading punctuation, core, trailing punctuation)


def synonym_of(word: str, pick: int) -> str | None:
    """The ``pick``-th (modulo) synonym of ``word`` keeping its case and punctuation, or None when it has none."""
    pre, core, post = _split(word)
    options = synonyms().get(core.lower())
    if not options:
        return None
    new = options[pick % len(options)]
    return pre + (new.capitalize() if core[:1].isupper() else new) + post


def _has_synonym(word: str) -> bool:
    return _split(word)[1].lower() in synonyms()


class SynonymReplacement:
    """Replace each word that has a synonym with probability ``rate``."""

    def __init__(self, rate: float = 0.1):
        self.rate = rate

    def make_params(self, tokens: Tokens, generator: torch.Generator | None = None) -> dict:
        hits = torch.rand(len(tokens.words), generator=generator) < self.rate
        picks = torch.randint(0, 1 << 16, (len(tokens.words),), generator=generator)
        return {"replace": [(i, synonym_of(w.text, int(picks[i]))) for i, w in enumerate(tokens.words)
                            if bool(hits[i]) and _has_synonym(w.text)]}

    def apply(self, tokens: Tokens, params: dict) -> Tokens:
        words = list(tokens.words)
        for i, new in params["replace"]:
            words[i] = Word(new, "synonym", words[i].was or words[i].text)
        return Tokens(words, list(tokens.deleted))


class RandomInsertion:
    """Insert round(rate x length) synonyms of words of the sentence at random places."""

    def __init__(self, rate: float = 0.1):
        self.rate = rate

    def make_params(self, tokens: Tokens, generator: torch.Generator | None = None) -> dict:
        sources = [w.text for w in tokens.words if _has_synonym(w.text)]
        n = round(self.rate * len(tokens.words)) if sources else 0
        inserts, length = [], len(tokens.words)
        pick = lambda high: int(torch.randint(high, (), generator=generator))  # noqa: E731
        for _ in range(n):
            src = sources[pick(len(sources))]
            word = _split(synonym_of(src, pick(1 << 16)))[1].lower()
            inserts.append((pick(length + 1), word))
            length += 1
        return {"insert": inserts}  # (position in the growing sentence, word), applied in order

    def apply(self, tokens: Tokens, params: dict) -> Tokens:
        words = list(tokens.words)
        for pos, word in params["insert"]:
            words.insert(pos, Word(word, "inserted"))
        return Tokens(words, list(tokens.deleted))


class RandomDeletion:
    """Delete each word with probability ``p`` (one word always survives)."""

    def __init__(self, p: float = 0.1):
        self.p = p

    def make_params(self, tokens: Tokens, generator: torch.Generator | None = None) -> dict:
        n = len(tokens.words)
        gone = [i for i, hit in enumerate((torch.rand(n, generator=generator) < self.p).tolist()) if hit]
        keep = int(torch.randint(max(n, 1), (), generator=generator))
        if n and len(gone) == n:
            gone.remove(keep)  # never return an empty sentence
        return {"delete": gone}

    def apply(self, tokens: Tokens, params: dict) -> Tokens:
        drop = set(params["delete"])
        words = [w for i, w in enumerate(tokens.words) if i not in drop]
        return Tokens(words, tokens.deleted + [tokens.words[i].text for i in sorted(drop)])


class RandomSwap:
    """Swap two random words, ``count`` times."""

    def __init__(self, count: int = 1):
        self.count = count

    def make_params(self, tokens: Tokens, generator: torch.Generator | None = None) -> dict:
        n = len(tokens.words)
        if n < 2:
            return {"swaps": []}
        return {"swaps": [tuple(int(i) for i in torch.randperm(n, generator=generator)[:2])
                          for _ in range(self.count)]}

    def apply(self, tokens: Tokens, params: dict) -> Tokens:
        words = list(tokens.words)
        for i, j in params["swaps"]:
            words[i], words[j] = words[j], words[i]
        for i in {k for pair in params["swaps"] for k in pair}:
            if words[i].tag is None:
                words[i] = replace(words[i], tag="swapped")
        return Tokens(words, list(tokens.deleted))


def _entry(cls: type, param: P, default_p: float = 1.0) -> OpSpec:
    return OpSpec(cls.__name__, summary_line(cls), (param,),
                  lambda params, p, **ctx: cls(**params), default_p=default_p)


TEXT_OPS: dict[str, OpSpec] = {op.name: op for op in [
    _entry(SynonymReplacement, P("rate", "float", 0.1, 0, 1, "chance each word with a synonym is replaced")),
    _entry(RandomInsertion, P("rate", "float", 0.1, 0, 1, "insertions as a fraction of the sentence length")),
    _entry(RandomDeletion, P("p", "float", 0.1, 0, 1, "chance each word is deleted")),
    _entry(RandomSwap, P("count", "int", 1, 0, 20, "how many pairs of words are swapped")),
]}
