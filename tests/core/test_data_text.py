"""Text files: sentiment140 CSV (latin-1), TSV, named-column CSV, split files; tokenizer, Vocab, padding, stats."""
from __future__ import annotations

import json

import pytest
import spacy
import torch

from core.data import DataError, Vocab, load
from core.data.vocab import pad_collate, tokenize


def _s140(path, rows, encoding="latin-1"):
    lines = [f'"{label}","{i}","Mon Apr 06 22:19:45 PDT 2009","NO_QUERY","u{i}","{text}"' for i, (label, text)
             in enumerate(rows)]
    path.write_bytes("\n".join(lines).encode(encoding))
    return path


def test_sentiment140_csv_with_latin1_bytes(tmp_path):
    rows = [("4", "lovely café, great food"), ("0", "awful service"), ("4", "great!"), ("0", "bad, bad")] * 5
    b = load(str(_s140(tmp_path / "s.csv", rows)))
    assert b.kind == "text" and b.classes == ["negative", "positive"]
    assert sum(len(d) for d in b.splits.values()) == 20 and not b.skipped
    texts = b.splits["train"].texts + b.splits["val"].texts
    assert "lovely café, great food" in texts  # latin-1 byte 0xe9 decoded, not mangled
    s = b.summary()
    json.dumps(s)
    assert s["non_utf8_lines"] == 5 and s["text_format"] == ["sentiment140"]


def test_tsv_lines_without_label_are_skipped_with_line_numbers(tmp_path):
    f = tmp_path / "d.tsv"
    f.write_text("sentence\tlabel\n" + "good film\tpos\nbad film\tneg\n" * 4 + "this line has no label\n\ttagless\n")
    b = load(str(f))
    assert b.classes == ["neg", "pos"] and sum(len(d) for d in b.splits.values()) == 8
    assert [(s.path, s.reason) for s in b.skipped] == [
        (f"{f}:10", "no <TAB>label after the sentence"), (f"{f}:11", "empty sentence")]


def test_csv_with_named_columns_and_a_short_row(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("id,Text,Label\n" + "1,\"nice, really\",yes\n2,meh,no\n" * 3 + "9,only two fields\n")
    b = load(str(f))
    assert b.classes == ["no", "yes"] and len(b.skipped) == 1 and b.skipped[0].path.endswith(":8")
    assert "nice, really" in b.splits["train"].texts + b.splits["val"].texts


def test_folder_of_split_files(tmp_path):
    (tmp_path / "train.tsv").write_text("a good one\tpos\na bad one\tneg\n" * 5)
    (tmp_path / "val.tsv").write_text("good\tpos\nbad\tneg\n")
    (tmp_path / "test.tsv").write_text("fine\tpos\nworse\tneg\n")
    b = load(str(tmp_path))
    assert {k: len(v) for k, v in b.splits.items()} == {"train": 10, "val": 2, "test": 2}


def test_dataset_ids_collate_and_transform(tmp_path):
    f = tmp_path / "d.tsv"
    f.write_text("good good film\tpos\nbad\tneg\n" * 5)
    b = load(str(f))
    ds = b.splits["train"]
    i = ds.texts.index("good good film")
    x, y = ds[i]
    assert x.dtype == torch.long and x.tolist() == b.vocab.encode("good good film") and b.classes[y] == "pos"
    ids, ys = b.collate_fn([ds[i], ds[ds.texts.index("bad")]])
    assert ids.shape == (2, 3) and ids[1].tolist()[1:] == [0, 0] and ys.tolist() == [1, 0]
    assert pad_collate is b.collate_fn
    ds.transform = lambda text: text + " zebra"
    assert ds[i][0].tolist() == b.vocab.encode("good good film") + [b.vocab.unk_index]


def test_tokenizer_is_spacy_blank_english_lowercased():
    text = "Don't  stop -- it's GREAT!"
    ref = [t.text.lower() for t in spacy.blank("en")(text) if not t.is_space]
    assert tokenize(text) == ref and "do" in ref and "n't" in ref


def test_vocab_specials_order_and_max_size():
    v = Vocab.build([["b", "a", "b", "c"], ["b", "a"]], max_size=4)
    assert v.itos == ["<pad>", "<unk>", "b", "a"] and v.pad_index == 0 and v.unk_index == 1 and len(v) == 4
    assert v.lookup(["a", "c", "zzz"]) == [3, 1, 1] and v.stoi["b"] == 2
    assert len(Vocab.build([["x"] * 3, ["y"]], max_size=100, min_freq=2)) == 3


def test_oov_rate_and_vocab_curve_by_hand(tmp_path):
    f = tmp_path / "d.tsv"
    train = "alpha beta\tpos\nalpha gamma\tneg\n" * 2
    f.write_text(train)
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "train.tsv").write_text(train)
    (tmp_path / "v" / "val.tsv").write_text("alpha delta\tpos\nepsilon\tneg\n")
    s = load(str(tmp_path / "v")).summary()
    assert s["val_oov_rate"] == pytest.approx(2 / 3, abs=1e-4)  # delta, epsilon unseen among 3 val tokens
    assert s["vocab_size"] == 5 and s["distinct_train_tokens"] == 3
    assert s["token_lengths"]["max"] == 2 and s["top_tokens"]["pos"][0] == ["alpha", 2]


@pytest.mark.parametrize("content, message", [
    (b"", "zero-byte"),
    (b"just one label\tpos\nanother\tpos\n", "only one label"),
    (b"a,b,c\n1,2,3\n", "cannot tell which column"),
])
def test_unusable_text_files_raise_one_clear_error(tmp_path, content, message):
    f = tmp_path / ("d.tsv" if b"\t" in content else "d.csv")
    f.write_bytes(content)
    with pytest.raises(DataError, match=message):
        load(str(f))


def test_txt_without_tabs_is_refused(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("hello\nworld\n")
    with pytest.raises(DataError, match="TAB"):
        load(str(f))


def test_builtin_reviews():
    b = load("builtin:reviews")
    assert b.classes == ["negative", "positive"] and sum(len(d) for d in b.splits.values()) >= 600
    s = b.summary()
    assert s["non_utf8_lines"] > 0 and s["text_format"] == ["sentiment140"]
    assert b.vocab.itos[:2] == ["<pad>", "<unk>"] and len(b.vocab) > 100


def test_class_folders_of_txt_files_with_split_folders(tmp_path):
    for split, n in (("train", 4), ("test", 2)):
        for label in ("neg", "pos"):
            (tmp_path / split / label).mkdir(parents=True)
            for i in range(n):
                (tmp_path / split / label / f"{i}.txt").write_text(f"{label} review number {i}\nsecond line")
    (tmp_path / "train" / "pos" / "blank.txt").write_text("  \n")
    b = load(str(tmp_path))
    assert b.kind == "text" and b.classes == ["neg", "pos"] and len(b.splits["test"]) == 4
    assert len(b.splits["train"]) + len(b.splits["val"]) == 8 and b.counts()["val"] == {"neg": 1, "pos": 1}
    assert "pos review number 0 second line" in b.splits["test"].texts + b.splits["train"].texts
    assert [s.reason for s in b.skipped] == ["empty text file"]


def _sentiment_labelled_sentences(root):
    """The layout of UCI's 'Sentiment Labelled Sentences': three sentence<TAB>label files and a readme."""
    root.mkdir()
    for name, words in (("amazon_cells_labelled.txt", "phone"), ("imdb_labelled.txt", "film"),
                        ("yelp_labelled.txt", "food")):
        (root / name).write_text("".join(f"great {words} number {i}\t1\nawful {words} number {i}\t0\n"
                                         for i in range(10)))
    (root / "readme.txt").write_text("This dataset was created for the paper 'From Group to Individual Labels'.\n"
                                     "Format: sentence \\t score \\n\n")
    return root


def test_a_folder_of_same_format_files_is_one_data_set_with_the_source_per_row(tmp_path):
    """Issue 13 item 2: refused before ('exactly one text file; found 4 text files')."""
    root = _sentiment_labelled_sentences(tmp_path / "sentiment labelled sentences")
    b = load(str(root))
    assert b.classes == ["0", "1"] and sum(len(d) for d in b.splits.values()) == 60
    assert [(s.path, s.reason) for s in b.skipped] == [
        (str(root / "readme.txt"), "no tab-separated labels (not 'sentence<TAB>label' lines)")]
    for ds in b.splits.values():  # every row knows its file, and the file holds that very line
        for text, target, source in zip(ds.texts, ds.targets, ds.sources):
            assert f"{text}\t{b.classes[target]}" in (root / source).read_text().splitlines()
    s = b.summary()
    assert s["source_files"] == {"amazon_cells_labelled.txt": 20, "imdb_labelled.txt": 20, "yelp_labelled.txt": 20}
    json.dumps(s)


def test_a_file_of_another_format_is_skipped_with_the_reason(tmp_path):
    root = _sentiment_labelled_sentences(tmp_path / "s")
    (root / "extra.csv").write_text("text,label\nnice,1\nugly,0\n")
    b = load(str(root))
    assert (str(root / "extra.csv"), "a csv file; the other files here are tsv files") in \
        [(s.path, s.reason) for s in b.skipped]
    assert "extra.csv" not in set(b.splits["train"].sources + b.splits["val"].sources)


def test_a_folder_without_any_usable_text_file_names_each_file_once(tmp_path):
    root = tmp_path / "notes"
    root.mkdir()
    (root / "readme.txt").write_text("just words\n")
    (root / "todo.txt").write_text("more words\n")
    with pytest.raises(DataError) as err:
        load(str(root))
    message = str(err.value)
    assert "readme.txt (no tab-separated labels" in message and "todo.txt (no tab-separated labels" in message
    assert str(root) not in message and message.count("Expected") == 1  # no path twice, the layout said once
