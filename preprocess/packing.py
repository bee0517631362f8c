"""`bert_pack_inputs`: N token segments -> the encoder's three id tensors.

`[CLS] s1 [SEP] s2 [SEP] ... [PAD]...`, type ids 0 for `[CLS]`, the first
segment and its `[SEP]`, 1 for the second, and so on; when the segments do
not fit, tokens are removed from their ends by round-robin allocation
(`tf_text.RoundRobinTrimmer`: each segment in turn gets one more token until
the budget of `seq_length - num_segments - 1` is spent, so short segments
keep all their tokens and long ones share the rest).

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
import tensorflow_text as tf_text


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
        f"{segment.shape}")
  if segment.shape.rank == 3:
    segment = segment.merge_dims(1, 2)
  return tf.cast(segment, tf.int32)


def bert_pack_inputs(segments, seq_length, special_tokens: SpecialTokenIds):
  """Packs token segments into the encoder inputs.

  Args:
    segments: a list of 1 or more int RaggedTensors `[batch, (words),
      (wordpieces)]` (as `tokenize` returns) or `[batch, (tokens)]`.
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
  if isinstance(seq_length, int) and seq_length < num_special:
    raise ValueError(
        f"bert_pack_inputs: seq_length must be at least {num_special} for "
        f"{len(segments)} segments ([CLS] and one [SEP] each), found "
        f"{seq_length}")
  segments = [_flatten_segment(s, i) for i, s in enumerate(segments)]
  seq_length_t = tf.convert_to_tensor(seq_length, dtype=tf.int32)
  with tf.control_dependencies([
      tf.debugging.assert_greater_equal(
          seq_length_t, num_special,
          message=(f"bert_pack_inputs: seq_length too small for "
                   f"{len(segments)} segments (needs [CLS] and one [SEP] "
                   f"each)"))
  ]):
    budget = tf.identity(seq_length_t) - num_special
  trimmed = tf_text.RoundRobinTrimmer(max_seq_length=budget).trim(segments)
  word_ids, type_ids = tf_text.combine_segments(
      trimmed,
      start_of_sequence_id=special_tokens.start_of_sequence_id,
      end_of_segment_id=special_tokens.end_of_segment_id)
  input_word_ids, input_mask = tf_text.pad_model_inputs(
      word_ids, max_seq_length=seq_length,
      pad_value=special_tokens.padding_id)
  input_type_ids, _ = tf_text.pad_model_inputs(
      type_ids, max_seq_length=seq_length, pad_value=0)
  return dict(
      input_word_ids=tf.cast(input_word_ids, tf.int32),
      input_mask=tf.cast(input_mask, tf.int32),
      input_type_ids=tf.cast(input_type_ids, tf.int32))
