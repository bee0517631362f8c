"""tokenize_with_offsets: byte offsets that slice the original strings."""

from __future__ import annotations

import pytest
import tensorflow as tf
from test_parity import HARD_CASES


def _normalized(ref, text):
    """The reference's normalization of `text` (no spaces, final sigma folded)."""
    return "".join(ref.basic.tokenize(text)).replace("\u03c2", "\u03c3")


def check_offsets(ours, ref, lines):
    """Every wordpiece's byte span normalizes back to the wordpiece's text."""
    data = [line.encode("utf-8") for line in lines]
    tokens, starts, limits = ours.tokenize_with_offsets(tf.constant(data))
    assert tokens.to_list() == ours.tokenize(tf.constant(data)).to_list()
    checked = 0
    for raw, line, t_row, s_row, l_row in zip(
        data, lines, tokens.to_list(), starts.to_list(), limits.to_list()
    ):
        words = ref.basic.tokenize(line)
        assert len(words) == len(t_row), line
        for word, t_word, s_word, l_word in zip(words, t_row, s_row, l_row):
            word = word.replace("\u03c2", "\u03c3")
            assert _normalized(ref, raw[s_word[0] : l_word[-1]].decode()) == word
            for piece_id, start, limit in zip(t_word, s_word, l_word):
                assert 0 <= start < limit <= len(raw), (line, start, limit)
                text = raw[start:limit].decode("utf-8")
                piece = ours.vocab[piece_id]
                if piece == "[UNK]":
                    expected = word
                else:
                    expected = piece[2:] if piece.startswith("##") else piece
                expected = expected.replace("\u03c2", "\u03c3")
                got = _normalized(ref, text)
                if len(text) == 1:  # One character may expand to several pieces.
                    assert expected in got, (line, piece, text)
                else:
                    assert got == expected, (line, piece, text)
                checked += 1
    return checked


@pytest.mark.parametrize("settings_name", ["uncased", "cased"])
def test_offsets_hard_cases(make_tokenizer, uncased_vocab_file, settings_name):
    ours, ref = make_tokenizer(uncased_vocab_file, settings_name)
    assert check_offsets(ours, ref, HARD_CASES) > 200


@pytest.mark.parametrize(
    "settings_name,vocab_name",
    [
        ("uncased", "uncased_vocab_file"),
        pytest.param("cased", "cased_vocab_file", marks=pytest.mark.slow),
    ],
)
def test_offsets_corpus(request, make_tokenizer, corpus_lines, settings_name, vocab_name):
    ours, ref = make_tokenizer(request.getfixturevalue(vocab_name), settings_name)
    lines = list(corpus_lines["gettext"][:500]) + list(corpus_lines["docs"][:500])
    assert check_offsets(ours, ref, lines) > 5000


def test_offsets_point_into_original_bytes(make_tokenizer, uncased_vocab_file):
    ours, _ = make_tokenizer(uncased_vocab_file, "uncased")
    text = "  Ç\u200ba va?\u00a0한\t中"
    tokens, starts, limits = ours.tokenize_with_offsets(tf.constant([text]))
    raw = text.encode()
    spans = [
        raw[s:limit].decode()
        for s, limit in zip(starts.flat_values.numpy(), limits.flat_values.numpy())
    ]
    # The deleted ZWSP stays inside the span of the word it was in.
    assert spans == ["Ç\u200ba", "va", "?", "한", "한", "한", "中"], spans
    assert [ours.vocab[i] for i in tokens.flat_values.numpy()][:3] == ["ca", "va", "?"]


@pytest.mark.parametrize(
    "text,spans",
    [
        ("cafe\u0301", ["cafe\u0301"]),  # a stripped trailing accent
        ("cafe\u0301 ok", ["cafe\u0301", "ok"]),
        ("a\x00b", ["a\x00b"]),  # a deleted control character inside
        ("x\u200b y", ["x\u200b", "y"]),  # a deleted format character at the end
        ("\u0301x", ["x"]),  # nothing before it in the row: dropped
    ],
)
def test_deleted_characters_belong_to_the_piece_before_them(
    make_tokenizer, uncased_vocab_file, text, spans
):
    ours, _ = make_tokenizer(uncased_vocab_file, "uncased")
    raw = text.encode("utf-8")
    _, starts, limits = ours.tokenize_with_offsets(tf.constant([raw]))
    words = [
        raw[s[0] : limit[-1]].decode("utf-8")
        for s, limit in zip(starts.to_list()[0], limits.to_list()[0])
    ]
    assert words == spans
