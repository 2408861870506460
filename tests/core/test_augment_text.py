"""Text augmentations: rates respected, changed words tagged, labels kept."""
from __future__ import annotations

import pytest
import torch

from core.augment import Pipeline, Step
from core.augment.text import (RandomDeletion, RandomInsertion, RandomSwap, SynonymReplacement, Tokens, synonym_of,
                               synonyms, synonyms_source)

SENTENCE = "The movie was good and the price was cheap but the screen was small and the sound was bad"


def _run(op, text=SENTENCE, seed=0) -> Tokens:
    torch.manual_seed(seed)
    tokens = Tokens.from_text(text)
    return op.apply(tokens, op.make_params(tokens))


def test_synonym_table_is_symmetric_and_shipped():
    table = synonyms()
    assert "great" in table["good"] and "good" in table["great"]
    assert all(word not in others for word, others in table.items())
    assert "synonyms.json" in synonyms_source()


def test_synonym_keeps_case_and_punctuation():
    new = synonym_of("Good!", 0)
    assert new[0].isupper() and new.endswith("!") and new[:-1].lower() in synonyms()["good"]
    assert synonym_of("zyxxy", 0) is None


def test_synonym_rate_is_respected():
    replaceable = [w for w in SENTENCE.split() if w.lower() in synonyms()]
    counts = [sum(w.tag == "synonym" for w in _run(SynonymReplacement(0.3), seed=s).words) for s in range(300)]
    assert sum(counts) / (300 * len(replaceable)) == pytest.approx(0.3, abs=0.04)
    assert all(not w.tag for w in _run(SynonymReplacement(0.0)).words)


def test_synonyms_are_synonyms_and_tagged():
    out = _run(SynonymReplacement(1.0))
    for word in out.words:
        if word.tag == "synonym":
            assert word.text.lower() in synonyms()[word.was.lower()]
    assert sum(w.tag == "synonym" for w in out.words) == sum(w.lower() in synonyms() for w in SENTENCE.split())


def test_deletion_probability_is_respected():
    n = len(SENTENCE.split())
    deleted = [len(_run(RandomDeletion(0.2), seed=s).deleted) for s in range(300)]
    assert sum(deleted) / (300 * n) == pytest.approx(0.2, abs=0.03)
    out = _run(RandomDeletion(1.0))
    assert len(out.words) == 1 and len(out.deleted) == n - 1  # never empty
    assert str(_run(RandomDeletion(0.0))) == SENTENCE


def test_insertion_count_follows_rate():
    out = _run(RandomInsertion(0.25))
    n = len(SENTENCE.split())
    inserted = [w for w in out.words if w.tag == "inserted"]
    assert len(inserted) == round(0.25 * n) and len(out.words) == n + len(inserted)
    assert all(w.text in {s for group in synonyms().values() for s in group} for w in inserted)
    assert str(_run(RandomInsertion(0.5), text="zyxxy qwerty")) == "zyxxy qwerty"  # nothing to draw synonyms from


def test_swap_count_keeps_the_words():
    out = _run(RandomSwap(3), seed=2)
    assert sorted(str(out).split()) == sorted(SENTENCE.split())
    assert 0 < sum(w.tag == "swapped" for w in out.words) <= 6
    assert str(_run(RandomSwap(0))) == SENTENCE


def test_pipeline_on_strings_replays_and_returns_text():
    pipe = Pipeline("text", [Step("SynonymReplacement", {"rate": 0.3}), Step("RandomInsertion", {"rate": 0.1}),
                             Step("RandomDeletion", {"p": 0.1}), Step("RandomSwap", {"count": 1})])
    draw = pipe.sample(SENTENCE, seed=5, keep_stages=True)
    torch.manual_seed(5)
    assert pipe.build()(SENTENCE) == str(draw.output) and isinstance(pipe.build()(SENTENCE), str)
    assert len(draw.stages) == 4


def test_text_augmentation_keeps_the_label():
    """As a Dataset .transform, text augmentation changes the text and never the label."""
    from torch.utils.data import Dataset

    class Sentences(Dataset):
        def __init__(self, texts, targets, transform=None):
            self.texts, self.targets, self.transform = texts, targets, transform

        def __len__(self):
            return len(self.texts)

        def __getitem__(self, i):
            text = self.transform(self.texts[i]) if self.transform else self.texts[i]
            return text, self.targets[i]

    texts, targets = [SENTENCE, "a bad and slow product", "great fast and cheap"], [1, 0, 1]
    data = Sentences(texts, targets, Pipeline("text", [Step("SynonymReplacement", {"rate": 1.0}),
                                                       Step("RandomSwap", {"count": 2})]).build())
    torch.manual_seed(0)
    items = [data[i] for i in range(3)]
    assert [y for _, y in items] == targets and [t for t, _ in items] != texts
