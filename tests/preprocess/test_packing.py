"""bert_pack_inputs: round-robin trimming, 1..3 segments, seq_length."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from bert_tf.preprocess import SpecialTokenIds, bert_pack_inputs

CLS, SEP, PAD = 101, 102, 0
SPECIAL = SpecialTokenIds(start_of_sequence_id=CLS, end_of_segment_id=SEP, padding_id=PAD)


def expected_packing(segments, seq_length):
    """Plain-Python packing: round-robin allocation, then [CLS] a [SEP] b [SEP]."""
    budget = seq_length - len(segments) - 1
    keep = [0] * len(segments)
    while budget > 0 and any(k < len(s) for k, s in zip(keep, segments)):
        for i, s in enumerate(segments):
            if budget > 0 and keep[i] < len(s):
                keep[i] += 1
                budget -= 1
    ids, types = [CLS], [0]
    for i, (s, k) in enumerate(zip(segments, keep)):
        ids += list(s[:k]) + [SEP]
        types += [i] * (k + 1)
    mask = [1] * len(ids) + [0] * (seq_length - len(ids))
    types += [0] * (seq_length - len(types))
    ids += [PAD] * (seq_length - len(ids))
    return ids, mask, types


def segment(n, start):
    """`n` tokens grouped into words of up to 3 wordpieces."""
    tokens = list(range(start, start + n))
    return [tokens[i : i + 3] for i in range(0, n, 3)]


# (segment lengths per example in the batch, seq_length)
CASES = [
    ([[3], [0]], 8),  # one segment, fits / empty
    ([[20], [5]], 8),  # one segment, truncated
    ([[2, 3], [10, 1], [1, 10], [10, 10]], 8),  # pairs: long/short trimming
    ([[100, 3], [3, 100], [300, 300]], 128),
    ([[600, 10], [0, 0], [250, 250]], 512),
    ([[4, 4, 4], [10, 1, 10], [1, 1, 30], [0, 5, 0]], 8),  # three segments
    ([[50, 60, 70], [2, 3, 4]], 128),
    ([[200, 200, 200]], 512),
]


@pytest.mark.parametrize("lengths,seq_length", CASES)
def test_packing_matches_round_robin(lengths, seq_length):
    num_segments = len(lengths[0])
    rows = [[segment(n, 1000 * (j + 1)) for n in row] for j, row in enumerate(lengths)]
    segments = [
        tf.ragged.constant([rows[b][s] for b in range(len(rows))], dtype=tf.int32, ragged_rank=2)
        for s in range(num_segments)
    ]
    out = bert_pack_inputs(segments, seq_length, SPECIAL)
    for key in ("input_word_ids", "input_mask", "input_type_ids"):
        assert out[key].dtype == tf.int32
        assert out[key].shape == (len(rows), seq_length)
    for b, row in enumerate(rows):
        flat = [[t for w in seg for t in w] for seg in row]
        ids, mask, types = expected_packing(flat, seq_length)
        np.testing.assert_array_equal(out["input_word_ids"][b], ids)
        np.testing.assert_array_equal(out["input_mask"][b], mask)
        np.testing.assert_array_equal(out["input_type_ids"][b], types)


def test_rank2_segments_and_tensor_seq_length():
    a = tf.ragged.constant([[5, 6, 7], [8]], dtype=tf.int32)
    b = tf.ragged.constant([[9], [10, 11]], dtype=tf.int32)
    out = bert_pack_inputs([a, b], tf.constant(6), SPECIAL)
    np.testing.assert_array_equal(
        out["input_word_ids"], [[CLS, 5, 6, SEP, 9, SEP], [CLS, 8, SEP, 10, 11, SEP]]
    )


def test_seq_length_too_small_is_a_clear_error():
    a = tf.ragged.constant([[[5]]], dtype=tf.int32)
    message = r"seq_length must be at least 3 for 2 segment\(s\) \(\[CLS\] and one \[SEP\] each\), found 2"
    with pytest.raises(ValueError, match=message):
        bert_pack_inputs([a, a], 2, SPECIAL)
    with pytest.raises(ValueError, match=message):
        bert_pack_inputs([a, a], tf.constant(2), SPECIAL)
    # Known only at run time: the graph's assertion names the problem and the value.
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=r"(?s)at least 2 for 1 segment\(s\).*found.*\b1\b"
    ):
        tf.function(lambda n: bert_pack_inputs([a], n, SPECIAL))(tf.constant(1))


def test_no_segments_is_a_clear_error():
    with pytest.raises(ValueError, match="1 or more segments"):
        bert_pack_inputs([], 8, SPECIAL)


@pytest.mark.parametrize("num_segments", [1, 2, 3, 4])
def test_round_robin_lengths_match_tf_text_trimmer(num_segments):
    """The closed form against `tf_text.RoundRobinTrimmer` itself."""
    import tensorflow_text as tf_text

    from bert_tf.preprocess.packing import round_robin_lengths

    rng = np.random.default_rng(num_segments)
    lengths = np.concatenate(
        [
            rng.integers(0, 6, size=(300, num_segments)),
            rng.integers(0, 200, size=(300, num_segments)),
            rng.integers(0, 3, size=(300, num_segments)) * 60,
        ]
    )
    segments = [
        tf.RaggedTensor.from_row_lengths(
            tf.zeros([int(lengths[:, i].sum())], tf.int32), lengths[:, i]
        )
        for i in range(num_segments)
    ]
    for budget in (0, 1, 2, 5, 7, 13, 126, 509):
        trimmed = tf_text.RoundRobinTrimmer(max_seq_length=budget).trim(segments)
        expected = np.stack([t.row_lengths().numpy() for t in trimmed], axis=1)
        got = round_robin_lengths(tf.constant(lengths, tf.int64), tf.constant(budget, tf.int64))
        np.testing.assert_array_equal(got, expected, err_msg=f"budget {budget}")


def test_different_batch_sizes_is_a_clear_error():
    a = tf.ragged.constant([[5, 6], [7]], dtype=tf.int32)
    b = tf.ragged.constant([[8]], dtype=tf.int32)
    spec = tf.RaggedTensorSpec([None, None], tf.int32, ragged_rank=1, row_splits_dtype=tf.int64)
    pack = tf.function(
        lambda x, y: bert_pack_inputs([x, y], 8, SPECIAL), input_signature=[spec, spec]
    )
    for x, y in ((a, b), (b, a)):
        with pytest.raises(tf.errors.InvalidArgumentError, match="different batch sizes"):
            bert_pack_inputs([x, y], 8, SPECIAL)
        with pytest.raises(tf.errors.InvalidArgumentError, match="different batch sizes"):
            pack(x, y)


def test_int32_row_splits_and_dense_segments():
    a = tf.ragged.constant([[5, 6, 7], [8]], dtype=tf.int32, row_splits_dtype=tf.int32)
    b = tf.constant([[9, 10], [11, 12]])
    out = bert_pack_inputs([a, b], 7, SPECIAL)
    np.testing.assert_array_equal(
        out["input_word_ids"], [[CLS, 5, 6, SEP, 9, 10, SEP], [CLS, 8, SEP, 11, 12, SEP, PAD]]
    )
    np.testing.assert_array_equal(
        out["input_type_ids"], [[0, 0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 1, 0]]
    )


@pytest.mark.parametrize("num_segments", [1, 2, 3])
def test_empty_batch_and_all_empty_segments(num_segments):
    """No rows at all, and rows whose segments have no tokens (nothing to gather)."""

    def no_tokens(rows):
        return tf.RaggedTensor.from_nested_row_splits(
            tf.zeros([0], tf.int32), [tf.zeros([rows + 1], tf.int64), tf.zeros([1], tf.int64)]
        )

    out = bert_pack_inputs([no_tokens(0)] * num_segments, 6, SPECIAL)
    for key in ("input_word_ids", "input_mask", "input_type_ids"):
        assert out[key].shape == (0, 6)
    out = bert_pack_inputs([no_tokens(2)] * num_segments, 6, SPECIAL)
    ids, mask, types = expected_packing([[]] * num_segments, 6)
    for row in range(2):
        np.testing.assert_array_equal(out["input_word_ids"][row], ids)
        np.testing.assert_array_equal(out["input_mask"][row], mask)
        np.testing.assert_array_equal(out["input_type_ids"][row], types)
