"""The shipped corpora: present, offline, split honestly, and pasted text never raises."""

import gzip
import json
import os

import pytest

from seqviz.data import corpora


@pytest.mark.parametrize("key", list(corpora.CORPORA))
def test_every_corpus_loads_offline_and_tokenises(key):
    docs = corpora.documents(key)
    assert len(docs) > 50 and all(isinstance(d, str) and d for d in docs)
    toks = corpora.tokens(docs[0], corpora.CORPORA[key].level)
    assert toks and all(t == t.lower() for t in toks)


def test_counts_match_the_files_they_come_from():
    with open(os.path.join(corpora.HERE, "names_female.txt"), encoding="utf-8") as f:
        female = [ln.strip() for ln in f if ln.strip()]
    names = corpora.labelled("names")
    assert [n for n, lab in names if lab == "female"] == female
    with gzip.open(os.path.join(corpora.HERE, "mail.jsonl.gz"), "rt", encoding="utf-8") as f:
        labels = [json.loads(ln)["label"] for ln in f]
    assert [lab for _, lab in corpora.labelled("mail")] == labels and set(labels) == {"spam", "ham"}
    assert sum(len(d.split()) for d in corpora.documents("brown")) > 1_000_000


def test_split_is_seeded_disjoint_and_complete():
    items = list(range(1000))
    train, held = corpora.split(items, held_out=0.1, seed=3)
    assert len(held) == 100 and sorted(train + held) == items and not set(train) & set(held)
    assert corpora.split(items, 0.1, 3) == (train, held)
    assert corpora.split(items, 0.1, 4) != (train, held)
    assert corpora.split(["one"], 0.5) == (["one"], [])  # a single document is never held out alone
    assert len(corpora.split(["a", "b"], 0.01)[1]) == 1


def test_tokens():
    assert corpora.tokens("Hi  there,\nO'Neil!", "word") == ["hi", "there", ",", "o'neil", "!"]
    assert corpora.tokens("Ab c", "char") == ["a", "b", " ", "c"]
    with pytest.raises(ValueError):
        corpora.tokens("x", "byte")


@pytest.mark.parametrize("text", ["", "   \n\n", None, "\ud800 lone", "x" * 2_000_000, "e\u0301\u202e rtl"])
def test_pasted_text_never_raises_and_says_what_it_did(text):
    docs, notes = corpora.user_documents(text)
    assert all(isinstance(n, str) and n.endswith(".") for n in notes)
    if not (text or "").strip():
        assert docs == [] and notes
    if text and len(text) > corpora.MAX_USER_CHARS:
        assert sum(map(len, docs)) <= corpora.MAX_USER_CHARS and any("first" in n for n in notes)
