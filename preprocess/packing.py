"""`bert_pack_inputs`: N token segments -> the encoder's three id tensors.

`[CLS] s1 [SEP] s2 [SEP] ... [PAD]...`, type ids 0 for `[CLS]`, the first
segment and its `[SEP]`, 1 for the second, and so on; when the segments do
not fit, tokens are removed from their ends by round-robin allocation (the
semantics of `tf_text.RoundRobinTrimmer`: each segment in turn gets one more
token until the budget of `seq_length - num_segments - 1` is spent, so short
segments keep all their tokens and long ones share the rest).

The whole packing is a few dense ops: the kept lengths in closed form, then
one gather per segment. `RoundRobinTrimmer` + `combine_segments` +
`pad_model_inputs` give the same tensors through validated ragged ops, with an
assertion sub-graph per ragged tensor: many times the ops, paid at every call
and every trace (docs/performance.md has the figures). Tests check the lengths
against `RoundRobinTrimmer` itself.

Example:

>>> a = tf.ragged.constant([[[5, 6], [7]]], dtype=tf.int32)
>>> b = tf.ragged.constant([[[8], [9, 10, 11]]], dtype=tf.int32)
>>> ids = SpecialTokenIds(start_of_sequence_id=2, end_of_segment_id=3,
...                       padding_id=0)
>>> out = bert_pack_inputs([a, b], seq_length=8, special_tokens=ids)
>>> out["input_word_ids"].numpy().tolist()
[[2, 5, 6, 7, 3, 8, 9, 3]]
>>> out["input_type_ids"].numpy().tolist()
[[0, 0, 0, 0, 0, 1, 1, 1]]
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class SpecialTokenIds:
    """The ids `bert_pack_inputs` inserts."""

    start_of_sequence_id: int
    end_of_segment_id: int
    padding_id: int


def _flatten_segment(segment, index):
    """`[batch, (words), (wordpieces)]` or `[batch, (tokens)]` -> `[batch, (tokens)]`."""
    if not isinstance(segment, tf.RaggedTensor):
        segment = tf.RaggedTensor.from_tensor(tf.convert_to_tensor(segment))
    if segment.shape.rank not in (2, 3):
        raise ValueError(
            f"bert_pack_inputs: segment {index}: expected a ragged tensor of shape "
            f"[batch, (words), (wordpieces)] or [batch, (tokens)], found shape "
            f"{segment.shape}"
        )
    segment = segment.with_row_splits_dtype(tf.int64)
    if segment.shape.rank == 3:
        # merge_dims(1, 2) without its validation ops: the splits are consistent.
        segment = tf.RaggedTensor.from_row_splits(
            segment.values.values,
            tf.gather(segment.values.row_splits, segment.row_splits),
            validate=False,
        )
    return tf.cast(segment, tf.int32)


def round_robin_lengths(lengths: tf.Tensor, budget: tf.Tensor) -> tf.Tensor:
    """How many tokens of each segment round-robin trimming keeps.

    Tokens are handed out one per segment per round, segments in order, until
    `budget` is spent (`tf_text.RoundRobinTrimmer`). After `t` full rounds a
    row has used `sum(min(lengths, t))`; the last full round is the largest `t`
    within budget, which is `max_k floor((budget - P_k) / (n - k))` with `P_k`
    the sum of the `k` smallest lengths; the rest goes one token each to the
    first segments longer than `t`.

    Args:
      lengths: int64 `[batch, num_segments]`.
      budget: int64 scalar, >= 0.

    Returns:
      int64 `[batch, num_segments]`, the kept lengths.

    >>> round_robin_lengths(tf.constant([[3, 4, 2], [1, 9, 1]], tf.int64),
    ...                     tf.constant(5, tf.int64)).numpy().tolist()
    [[2, 2, 1], [1, 3, 1]]
    """
    num_segments = lengths.shape[1]
    if num_segments == 1:  # Round robin over one segment: its first `budget` tokens.
        return tf.minimum(lengths, budget)
    smaller_sums = tf.cumsum(tf.sort(lengths, axis=1), axis=1, exclusive=True)
    rounds = tf.reduce_max(
        tf.math.floordiv(budget - smaller_sums, tf.range(num_segments, 0, -1, dtype=tf.int64)),
        axis=1,
        keepdims=True,
    )
    full = tf.minimum(lengths, rounds)
    left = budget - tf.reduce_sum(full, axis=1, keepdims=True)
    longer = lengths > rounds
    extra = longer & (tf.cumsum(tf.cast(longer, tf.int64), axis=1, exclusive=True) < left)
    fits = tf.reduce_sum(lengths, axis=1, keepdims=True) <= budget
    return tf.where(fits, lengths, full + tf.cast(extra, tf.int64))


def bert_pack_inputs(segments, seq_length, special_tokens: SpecialTokenIds):
    """Packs token segments into the encoder inputs.

    Args:
      segments: a list of 1 or more int RaggedTensors `[batch, (words),
        (wordpieces)]` (as `tokenize` returns) or `[batch, (tokens)]`, all with
        the same `batch`.
      seq_length: int or int32 scalar tensor, the output length; must be at
        least `len(segments) + 1` (room for the special tokens).
      special_tokens: the `SpecialTokenIds`.

    Returns:
      dict of int32 tensors `[batch, seq_length]`: `input_word_ids`,
      `input_mask`, `input_type_ids`.
    """
    if isinstance(segments, (tf.Tensor, tf.RaggedTensor)):
        segments = [segments]
    segments = list(segments)
    if not segments:
        raise ValueError("bert_pack_inputs: expected 1 or more segments, found 0")
    num_special = len(segments) + 1
    too_small = (
        f"bert_pack_inputs: seq_length must be at least {num_special} for "
        f"{len(segments)} segment(s) ([CLS] and one [SEP] each), found"
    )
    static_seq_length = tf.get_static_value(seq_length)  # A Python int, an eager tensor, ...
    if static_seq_length is not None and int(static_seq_length) < num_special:
        raise ValueError(f"{too_small} {int(static_seq_length)}")
    seq_length = tf.cast(tf.convert_to_tensor(seq_length, dtype=tf.int32), tf.int64)
    segments = [_flatten_segment(s, i) for i, s in enumerate(segments)]
    # String-only `tf.debugging.Assert`s are one op each (`tf.debugging.assert_*`
    # build a `tf.cond`, a sub-graph to trace, per check).
    checks = []
    if static_seq_length is None:  # Known only when the graph runs.
        checks.append(tf.debugging.Assert(seq_length >= num_special, [too_small, seq_length]))
    nrows = tf.stack([s.nrows() for s in segments])
    if len(segments) > 1:
        checks.append(
            tf.debugging.Assert(
                tf.reduce_all(tf.equal(nrows, nrows[0])),
                ["bert_pack_inputs: the segments have different batch sizes"],
            )
        )
    with tf.control_dependencies(checks):
        batch = tf.identity(nrows[0])
        lengths = tf.stack([s.row_lengths() for s in segments], axis=1)
    kept = round_robin_lengths(lengths, seq_length - num_special)

    # Each output column, per row: [CLS] at 0; segment i's kept tokens from
    # its start column on, then its [SEP]; padding after the last [SEP]. Every
    # token is gathered from its segment's flat values: a few dense ops per
    # segment, no scatter.
    columns = tf.range(seq_length)[tf.newaxis, :]  # [1, seq_length]
    word_ids = tf.where(
        columns == 0,
        tf.constant(special_tokens.start_of_sequence_id, tf.int32),
        tf.constant(special_tokens.padding_id, tf.int32),
    )
    type_ids = tf.zeros([batch, seq_length], tf.int32)
    start = tf.ones([batch, 1], tf.int64)  # The segment's first column.
    for i, tokens in enumerate(segments):
        kept_i = kept[:, i : i + 1]  # [batch, 1]
        position = columns - start  # [batch, seq_length]
        in_segment = (position >= 0) & (position < kept_i)
        # One extra value so that every index (also the masked ones) is valid.
        values = tf.concat([tokens.flat_values, [special_tokens.padding_id]], axis=0)
        index = tf.where(
            in_segment,
            tokens.row_starts()[:, tf.newaxis] + position,
            tf.size(values, out_type=tf.int64) - 1,
        )
        is_sep = position == kept_i
        word_ids = tf.where(in_segment, tf.gather(values, index), word_ids)
        word_ids = tf.where(
            is_sep, tf.constant(special_tokens.end_of_segment_id, tf.int32), word_ids
        )
        if i > 0:
            type_ids = tf.where(in_segment | is_sep, tf.constant(i, tf.int32), type_ids)
        start += kept_i + 1
    input_word_ids = word_ids
    input_type_ids = type_ids
    input_mask = tf.cast(columns < start, tf.int32)
    return dict(input_word_ids=input_word_ids, input_mask=input_mask, input_type_ids=input_type_ids)
