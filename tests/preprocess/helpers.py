"""One helper per kind of check in the preprocess tests."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


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
