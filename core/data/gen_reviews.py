"""Generator for the built-in review set: short positive/negative reviews in the sentiment140 CSV layout."""
from __future__ import annotations

import csv
import io
import random
from datetime import datetime, timedelta
from pathlib import Path

N_POSITIVE, N_NEGATIVE = 380, 320  # 700 reviews, mildly imbalanced
THINGS = ["movie", "phone", "headphones", "pizza", "hotel", "book", "game", "laptop", "coffee", "service", "camera",
          "album", "restaurant", "show", "app", "chair", "jacket", "crème brûlée", "café", "sequel", "soundtrack",
          "blender", "bike", "tent", "keyboard", "novel", "podcast", "sofa", "vacuum", "printer", "burger", "museum",
          "concert", "documentary", "backpack", "kettle", "watch", "mattress", "sushi", "ramen", "tour", "piñata"]
POSITIVE = ["great", "excellent", "wonderful", "brilliant", "lovely", "fantastic", "superb", "delightful", "amazing",
            "charming", "solid", "enjoyable", "fun", "perfect", "impressive", "gorgeous", "reliable", "cosy", "tasty",
            "clever", "beautiful", "sturdy", "smooth", "outstanding", "pleasant"]
NEGATIVE = ["terrible", "awful", "boring", "broken", "disappointing", "bad", "horrible", "dull", "useless", "poor",
            "annoying", "cheap", "mediocre", "painful", "slow", "flimsy", "noisy", "bland", "ugly", "overpriced",
            "clumsy", "stale", "confusing", "rude", "unbearable", "greasy"]
INTENSIFIERS = ["", "", "really ", "very ", "truly ", "so ", "absolutely ", "quite "]
POS_TAILS = ["would buy again", "highly recommend it", "loved every minute", "worth every penny", "made my day",
             "five stars", "my friends loved it too", "will come back", "exceeded my expectations", "a naïve joy"]
NEG_TAILS = ["would not recommend", "waste of money", "never again", "returned it the next day", "one star",
             "total letdown", "do not bother", "regret buying it", "fell apart quickly", "déjà vu of every bad one"]
OPENERS = ["", "", "", "honestly, ", "wow, ", "well, ", "ok so ", "meh. ", "update: "]
# neutral context sentences: they carry no sentiment but widen the vocabulary (a longer tail for the vocab chart)
WHO = ["my sister", "my boss", "a friend", "my neighbour", "the kids", "my husband", "my wife", "grandma",
       "my roommate", "a colleague", "the whole family", "my dad", "my mum", "our team", "the teacher"]
WHEN = ["last week", "yesterday", "on monday", "on tuesday", "over the weekend", "in march", "this morning",
        "after work", "during the holidays", "on my birthday", "two days ago", "last night", "in the summer"]
WHERE = ["online", "at the mall", "in a small shop downtown", "at the airport", "from a street market", "on sale",
         "in paris", "in berlin", "near the station", "at a garage sale", "through a subscription", "in a hurry"]
FILLERS = ["{who} got it {where} {when}", "bought it {where} {when}", "{who} recommended it {when}",
           "tried it {when} with {who}", "it arrived {when}", "picked it up {where}"]


def _review(rng: random.Random, positive: bool) -> str:
    """One short review; some flip a word of the opposite polarity with 'not' (harder to classify)."""
    thing = rng.choice(THINGS)
    if rng.random() < 0.15:  # "not bad" / "not great"
        adj = "not " + rng.choice(NEGATIVE if positive else POSITIVE)
    else:
        adj = rng.choice(INTENSIFIERS) + rng.choice(POSITIVE if positive else NEGATIVE)
    tail = rng.choice(POS_TAILS if positive else NEG_TAILS)
    forms = [f"the {thing} was {adj}, {tail}", f"{adj} {thing}! {tail}", f"this {thing} is {adj}. {tail}.",
             f"{tail}. the {thing}? {adj}"]
    text = rng.choice(OPENERS) + rng.choice(forms)
    if rng.random() < 0.6:
        filler = rng.choice(FILLERS).format(who=rng.choice(WHO), when=rng.choice(WHEN), where=rng.choice(WHERE))
        text = f"{filler}. {text}" if rng.random() < 0.5 else f"{text.rstrip('.')}. {filler}"
    return text


def write_reviews(out: Path) -> None:
    """``out/reviews.csv``: 700 rows "label","id","date","NO_QUERY","user","text" (label 0 or 4), latin-1 encoded.

    Like the real sentiment140 file it has no header and is not UTF-8: accented words are single latin-1 bytes.
    """
    rng = random.Random(7)
    labels = [4] * N_POSITIVE + [0] * N_NEGATIVE
    rng.shuffle(labels)
    start = datetime(2009, 4, 6, 22, 19, 45)
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    for i, label in enumerate(labels):
        when = (start + timedelta(minutes=7 * i)).strftime("%a %b %d %H:%M:%S PDT %Y")
        user = f"user{rng.randint(1, 400)}"
        writer.writerow([label, 1467810369 + i, when, "NO_QUERY", user, _review(rng, label == 4)])
    (out / "reviews.csv").write_bytes(buf.getvalue().encode("latin-1"))
