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
    """On the real text Dataset, as the trainer sets it up (prepare_splits): the token ids change, the labels not."""
    import copy

    from core.data import load
    from core.models import build_for
    from core.train import TrainConfig
    from core.train.data import prepare_splits

    bundle = load("builtin:reviews")
    bundle = copy.copy(bundle)
    bundle.splits = {**bundle.splits, "train": copy.copy(bundle.splits["train"])}  # the cached bundle stays as is
    pipe = Pipeline("text", [Step("SynonymReplacement", {"rate": 1.0}), Step("RandomSwap", {"count": 2})])
    config = TrainConfig(data="builtin:reviews", model="lstm", augment=pipe.to_dict())
    plain = [bundle.splits["train"][i] for i in range(30)]
    train, _, _ = prepare_splits(config, bundle, build_for(bundle, "lstm"), generator=torch.Generator().manual_seed(0))
    augmented = [train[i] for i in range(30)]
    assert [y for _, y in augmented] == [y for _, y in plain] == bundle.splits["train"].targets[:30]
    changed = sum(not torch.equal(a, p) for (a, _), (p, _) in zip(augmented, plain))
    assert changed >= 25  # two swaps in a sentence of several words almost always change the ids
