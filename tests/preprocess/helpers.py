"""One helper per kind of check in the preprocess tests."""

from __future__ import annotations

import collections
import pathlib

import numpy as np
import preprocess_reference as reference  # pylint: disable=import-error
import tensorflow as tf

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# (name, TokenizerSettings kwargs): every setting a checkpoint can ask for.
SETTINGS = {
    "uncased": dict(do_lower_case=True),
    "cased": dict(do_lower_case=False),
    "hf_lower_keep_accents": dict(do_lower_case=True, strip_accents=False),
    "hf_cased_strip_accents": dict(do_lower_case=False, strip_accents=True),
    "hf_uncased_no_cjk": dict(do_lower_case=True, tokenize_chinese_chars=False),
}


def write_vocab(path: pathlib.Path, tokens) -> pathlib.Path:
    path.write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
    return path


def derive_cased_vocab(lines, size=12000):
    """A cased multilingual WordPiece vocab derived from `lines`.

    Whole frequent words, frequent characters (alone and as `##` suffixes),
    and prefixes / `##` suffixes of frequent words, so that WordPiece splits
    real words into several pieces, and rare characters stay out (-> [UNK]).
    """
    basic = reference.google_tokenization.BasicTokenizer(do_lower_case=False)
    words = collections.Counter()
    for line in lines:
        words.update(basic.tokenize(line))
    chars = collections.Counter()
    for word, n in words.items():
        for c in word:
            chars[c] += n
    tokens = list(SPECIAL_TOKENS)
    seen = set(tokens)

    def add(token):
        if token not in seen and len(tokens) < size:
            seen.add(token)
            tokens.append(token)

    for c, n in chars.most_common():
        if n >= 3:
            add(c)
            add("##" + c)
    for word, _ in words.most_common(3000):
        add(word)
    for word, _ in words.most_common(6000):
        for k in (2, 3, 4):
            if len(word) > k:
                add(word[:k])
                add("##" + word[k:])
                add("##" + word[-k:])
    return tokens


def per_row_ids(tokens: tf.RaggedTensor) -> list[list[int]]:
    """`[batch, (words), (wordpieces)]` -> one flat id list per row (fast)."""
    flat = tokens.merge_dims(1, 2)
    values = flat.flat_values.numpy().tolist()
    splits = flat.row_splits.numpy().tolist()
    return [values[a:b] for a, b in zip(splits[:-1], splits[1:])]


def parity(ours, ref, lines, batch_size=2048):
    """Tokenizes `lines` both ways.

    Returns:
      (number identical, list of (line, ours, reference) that differ).
    """
    mismatches = []
    for i in range(0, len(lines), batch_size):
        batch = list(lines[i : i + batch_size])
        got = per_row_ids(
            ours.tokenize(
                tf.constant(
                    [line.encode("utf-8") if isinstance(line, str) else line for line in batch]
                )
            )
        )
        for line, ids in zip(batch, got):
            expected = ref(line)
            if ids != expected:
                mismatches.append((line, ids, expected))
    return len(lines) - len(mismatches), mismatches


def describe(mismatches, vocab, limit=5):
    def tokens(ids):
        return [vocab[i] for i in ids][:30]

    return "\n".join(
        f"  {line!r:.120}\n    ours: {tokens(a)}\n    ref:  {tokens(b)}"
        for line, a, b in mismatches[:limit]
    )


def assert_all_equal(a, b):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
