"""The ASCII fast path of `BertTokenizer.tokenize`: same ids, same structure.

Lines of printable ASCII (plus tab, newline, carriage return) are split by a
regex instead of the Unicode normalizer; everything else takes the exact path.
Each check compares the default tokenizer with `ascii_fast_path=False` (the
exact path alone) and with the reference, on the lines where the two paths
could disagree.
"""

from __future__ import annotations

import string

import pytest
import tensorflow as tf
from helpers import SETTINGS, assert_all_equal, describe, parity

# Lines that take the fast path.
SIMPLE_LINES = [
    "",
    " ",
    "   ",
    "\t",
    "\n",
    "\r\n",
    " \t\r\n ",
    "tab\there\nnew\rcr",
    "Hello, World! The quick brown fox.",
    "UPPER lower MiXeD unaffable",
    string.punctuation,
    " ".join(string.punctuation),
    "a" + "a".join(string.punctuation) + "a",
    "don't--stop...now!! (x) [y] {z} <w> a/b\\c|d~e`f^g_h",
    "[MASK] [CLS] [SEP] [UNK] ##ing #hash @user $5 3.14 50% a&b a*b+c=d",
    # The 200-character [UNK] rule, at and around the limit.
    "a" * 199,
    "a" * 200,
    "a" * 201,
    "A" * 200,
    "A" * 201,
    "x " + "b" * 200 + "! " + "c" * 201 + ".",
    "," + "d" * 200 + ",",
    "e" * 100 + "-" + "e" * 150,
    "f" * 1000,
    "1" * 200,
    "2" * 201,
    "~" * 300,
]
# Lines that must not (control characters, DEL, vertical tab, form feed,
# non-ASCII), each also mixed with simple text.
OTHER_LINES = [
    f"ab{chr(c)}cd ef{chr(c)}" for c in list(range(0, 9)) + [11, 12] + list(range(14, 32)) + [127]
] + [
    "caf\u00e9 na\u00efve",
    "\u00a0nbsp",
    "zero\u200bwidth",
    "\x00",
    "a" * 200 + "\x01",
    "a" * 199 + "\u00e9",
    "\u4e2d\u6587 text",
    "\u03a3\u0391\u03a3 END",
    "\ufeffbom",
    "emoji \U0001f600!",
]


def _tokenizers(make_tokenizer, vocab_file, settings_name):
    from bert_tf.preprocess import BertTokenizer, TokenizerSettings

    ours, ref = make_tokenizer(vocab_file, settings_name)
    exact = BertTokenizer(
        vocab_file, TokenizerSettings(**SETTINGS[settings_name]), ascii_fast_path=False
    )
    assert ours.ascii_fast_path and not exact.ascii_fast_path
    return ours, exact, ref


def assert_same_tokens(ours, exact, lines):
    """Same ids and the same [batch, (words), (wordpieces)] nesting."""
    batch = tf.constant(lines)
    got, expected = ours.tokenize(batch), exact.tokenize(batch)
    assert got.dtype == expected.dtype == tf.int32
    assert got.ragged_rank == expected.ragged_rank == 2
    for a, b in zip(
        (got.flat_values,) + got.nested_row_splits,
        (expected.flat_values,) + expected.nested_row_splits,
    ):
        assert_all_equal(a, b)


@pytest.mark.parametrize("settings_name", sorted(SETTINGS))
def test_fast_path_lines_like_reference(make_tokenizer, uncased_vocab_file, settings_name):
    ours, exact, ref = _tokenizers(make_tokenizer, uncased_vocab_file, settings_name)
    lines = SIMPLE_LINES + OTHER_LINES
    identical, mismatches = parity(ours, ref, lines)
    assert identical == len(lines), describe(mismatches, ours.vocab)
    assert_same_tokens(ours, exact, lines)


def test_routing(uncased_vocab_file):
    """The fast path really runs on SIMPLE_LINES (and only on them)."""
    from bert_tf.preprocess import tokenizer

    pattern = tokenizer._SIMPLE_ASCII_LINE  # pylint: disable=protected-access
    assert all(tf.strings.regex_full_match(SIMPLE_LINES, pattern).numpy())
    assert not any(tf.strings.regex_full_match(OTHER_LINES, pattern).numpy())


@pytest.mark.parametrize("settings_name", ["uncased", "cased"])
def test_mixed_batches(make_tokenizer, uncased_vocab_file, settings_name):
    """Interleaved simple / other lines, all-simple, all-other, empty batch."""
    ours, exact, _ = _tokenizers(make_tokenizer, uncased_vocab_file, settings_name)
    mixed = [line for pair in zip(SIMPLE_LINES, OTHER_LINES * 2) for line in pair]
    for lines in (
        mixed,
        mixed[::-1],
        SIMPLE_LINES,
        OTHER_LINES,
        [""],
        ["\x01"],
        OTHER_LINES[:1] + SIMPLE_LINES,
        SIMPLE_LINES + OTHER_LINES[:1],
    ):
        assert_same_tokens(ours, exact, lines)
    empty = ours.tokenize(tf.constant([], tf.string))
    assert empty.shape[0] == 0 and empty.ragged_rank == 2


@pytest.mark.parametrize("corpus", ["gettext", "docs"])
@pytest.mark.parametrize(
    "settings_name,vocab_name", [("uncased", "uncased_vocab_file"), ("cased", "cased_vocab_file")]
)
def test_corpus_fast_equals_exact(
    request, make_tokenizer, corpus_lines, corpus, settings_name, vocab_name
):
    """Whole corpora: both paths give the same tensors."""
    ours, exact, _ = _tokenizers(make_tokenizer, request.getfixturevalue(vocab_name), settings_name)
    lines = corpus_lines[corpus]
    for i in range(0, len(lines), 2048):
        assert_same_tokens(ours, exact, lines[i : i + 2048])
