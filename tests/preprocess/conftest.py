"""Shared fixtures of the preprocess tests: vocabs, tokenizers, one export."""

from __future__ import annotations

import functools
import pathlib

import preprocess_corpora as corpora  # pylint: disable=import-error
import preprocess_reference as reference  # pylint: disable=import-error
import pytest
from helpers import SETTINGS, SPECIAL_TOKENS, derive_cased_vocab, write_vocab  # noqa: F401


@pytest.fixture(scope="session")
def corpus_lines():
    lines = {"gettext": corpora.gettext_corpus(), "docs": corpora.docs_corpus()}
    for name, text in lines.items():
        assert len(text) >= 3000, (
            f"corpus {name}: expected at least 3000 lines of text on this machine, "
            f"found {len(text)}"
        )
    return lines


@pytest.fixture(scope="session")
def uncased_vocab_file(minilm_dir) -> pathlib.Path:
    return minilm_dir / "vocab.txt"


@pytest.fixture(scope="session")
def cased_vocab_file(tmp_path_factory, corpus_lines) -> pathlib.Path:
    lines = corpus_lines["gettext"] + corpus_lines["docs"]
    path = tmp_path_factory.mktemp("cased_vocab") / "vocab.txt"
    return write_vocab(path, derive_cased_vocab(lines))


@pytest.fixture(scope="session")
def tiny_vocab_file(tmp_path_factory) -> pathlib.Path:
    tokens = SPECIAL_TOKENS + [
        "hello",
        "world",
        "!",
        "wor",
        "##ld",
        "un",
        "##aff",
        "##able",
        "a",
        "b",
        "c",
        "d",
        "e",
        "x",
        "y",
        "z",
        "##a",
        "##b",
        "##c",
        "the",
        "cat",
        "sat",
        ".",
        ",",
        "on",
        "mat",
    ]
    return write_vocab(tmp_path_factory.mktemp("tiny_vocab") / "vocab.txt", tokens)


@pytest.fixture(scope="session")
def make_tokenizer():
    """(vocab_file, settings name) -> (our BertTokenizer, ReferenceTokenizer)."""
    from bert_tf.preprocess import BertTokenizer, TokenizerSettings, load_vocab

    @functools.cache
    def make(vocab_file, settings_name):
        kwargs = SETTINGS[settings_name]
        ours = BertTokenizer(vocab_file, TokenizerSettings(**kwargs))
        ref = reference.ReferenceTokenizer(
            load_vocab(vocab_file),
            kwargs["do_lower_case"],
            kwargs.get("strip_accents"),
            kwargs.get("tokenize_chinese_chars", True),
        )
        return ours, ref

    return make


@pytest.fixture(scope="session")
def saved_preprocess_dir(tmp_path_factory, uncased_vocab_file) -> pathlib.Path:
    """One SavedModel of the MiniLM (uncased) preprocessor for the session."""
    import tensorflow as tf

    from bert_tf.preprocess import TokenizerSettings, build_preprocess_model

    model = build_preprocess_model(uncased_vocab_file, TokenizerSettings(do_lower_case=True))
    path = tmp_path_factory.mktemp("preprocess") / "preprocess"
    tf.saved_model.save(model, str(path))
    return path
