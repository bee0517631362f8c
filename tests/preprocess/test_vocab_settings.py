"""Vocab reading and settings, against the reference's own readers."""

from __future__ import annotations

import json

import preprocess_reference as reference
import pytest
import tensorflow as tf
from helpers import parity

from bert_tf.preprocess import (
    BertTokenizer,
    SettingsError,
    TokenizerSettings,
    VocabError,
    load_vocab,
)


def test_load_vocab_matches_reference(tmp_path):
    """Duplicates, empty lines, padding whitespace, no final newline."""
    path = tmp_path / "vocab.txt"
    path.write_bytes(
        b"[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n  hello \nhello\n\nwor\n##ld\n\n##\nworld\r\nx"
    )
    expected = reference.google_tokenization.load_vocab(str(path))
    assert load_vocab(path) == list(expected)
    assert {t: i for i, t in enumerate(load_vocab(path))} == dict(expected)
    ours = BertTokenizer(path, TokenizerSettings(do_lower_case=True))
    ref = reference.ReferenceTokenizer(load_vocab(path), True)
    lines = ["hello world", "Hello worldx", "x ## #", "wor ld", ""]
    identical, mismatches = parity(ours, ref, lines)
    assert identical == len(lines), mismatches


def test_missing_special_token_is_a_clear_error(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("[PAD]\n[CLS]\n[SEP]\nhello\n")
    with pytest.raises(VocabError, match=r"\['\[UNK\]'\] not found"):
        BertTokenizer(path, TokenizerSettings(do_lower_case=True))
    with pytest.raises(VocabError, match="cannot read vocab"):
        BertTokenizer(tmp_path / "missing.txt", TokenizerSettings(True))


def test_settings_from_tokenizer_config(tmp_path, minilm_dir):
    settings = TokenizerSettings.from_tokenizer_config(minilm_dir / "tokenizer_config.json")
    assert settings == TokenizerSettings(True, None, True)
    assert settings.effective_strip_accents
    path = tmp_path / "tokenizer_config.json"
    path.write_text(
        json.dumps(dict(do_lower_case=True, strip_accents=False, tokenize_chinese_chars=False))
    )
    settings = TokenizerSettings.from_tokenizer_config(path)
    assert settings == TokenizerSettings(True, False, False)
    assert not settings.effective_strip_accents
    path.write_text(json.dumps(dict(do_lower_case="yes")))
    with pytest.raises(SettingsError, match="do_lower_case: expected a bool"):
        TokenizerSettings.from_tokenizer_config(path)


def test_tokenize_rejects_wrong_rank(tiny_vocab_file):
    ours = BertTokenizer(tiny_vocab_file, TokenizerSettings(do_lower_case=True))
    with pytest.raises(ValueError, match=r"expected strings of shape \[batch\]"):
        ours.tokenize(tf.constant([["a"]]))
