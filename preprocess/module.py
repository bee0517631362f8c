"""The exportable preprocessing model (`preprocess/` of an export).

`BertPreprocessor` is a `tf.Module` with the TF Hub BERT preprocessor
interface (docs/interface.md, section `preprocess/`):

- `preprocessor(strings)`: string `[batch]` -> dict of int32 `[batch,
  default_seq_length]` tensors `input_word_ids`, `input_mask`,
  `input_type_ids` (also the `serving_default` signature, input `text`);
- `preprocessor.tokenize(strings)`: int32 RaggedTensor `[batch, (words),
  (wordpieces)]`; `preprocessor.tokenize.get_special_tokens_dict()`;
  `preprocessor.tokenize.vocab_file`: the vocab, a SavedModel asset;
- `preprocessor.tokenize_with_offsets(strings)`: `(tokens, start_offsets,
  limit_offsets)`, int64 byte offsets into the input strings;
- `preprocessor.bert_pack_inputs(segments, seq_length=N)`: 1 to
  `max_num_segments` ragged token tensors -> the same dict, `[batch, N]`.

Example (save, then use it the way TF Hub users do):

    from bert_tf.preprocess import TokenizerSettings, build_preprocess_model
    model = build_preprocess_model("vocab.txt",
                                   TokenizerSettings(do_lower_case=True))
    tf.saved_model.save(model, "/tmp/preprocess")
    preprocessor = hub.load("/tmp/preprocess")
    tokenize = hub.KerasLayer(preprocessor.tokenize)
    pack = hub.KerasLayer(preprocessor.bert_pack_inputs,
                          arguments=dict(seq_length=64))
"""

from __future__ import annotations

import os

import tensorflow as tf

from bert_tf.preprocess import packing
from bert_tf.preprocess import tokenizer as tokenizer_lib

_STRINGS_SPEC = tf.TensorSpec([None], tf.string)
_TOKENS_SPEC = tf.RaggedTensorSpec(
    [None, None, None], tf.int32, ragged_rank=2, row_splits_dtype=tf.int64
)


class Tokenize(tf.Module):
    """`preprocessor.tokenize`: callable, with `get_special_tokens_dict()`."""

    def __init__(self, tokenizer: tokenizer_lib.BertTokenizer, vocab_file: str | os.PathLike):
        super().__init__(name="tokenize")
        self._tokenizer = tokenizer
        # The vocab travels with the SavedModel (and with every re-save of it).
        self.vocab_file = tf.saved_model.Asset(os.fspath(vocab_file))
        self._special_tokens = dict(tokenizer.special_token_ids)

    @tf.function(input_signature=[_STRINGS_SPEC], autograph=False)
    def __call__(self, strings):
        """string `[batch]` -> int32 RaggedTensor `[batch, (words), (wordpieces)]`."""
        return self._tokenizer.tokenize(strings)

    @tf.function(input_signature=[], autograph=False)
    def get_special_tokens_dict(self):
        """dict of int32 scalars: `vocab_size`, `start_of_sequence_id`,
        `end_of_segment_id`, `padding_id`, `mask_id` (-1 without `[MASK]`)."""
        return {k: tf.constant(v, tf.int32) for k, v in self._special_tokens.items()}


class BertPreprocessor(tf.Module):
    """BERT preprocessing: strings -> wordpiece ids -> packed encoder inputs.

    Args:
      vocab_file: path of `vocab.txt`.
      settings: `TokenizerSettings` (casing, accents, CJK).
      default_seq_length: `seq_length` of `__call__` and of
        `bert_pack_inputs` when none is given.
      max_num_segments: `bert_pack_inputs` is saved for 1 to this many
        segments (in memory, any number works).
    """

    def __init__(
        self,
        vocab_file: str | os.PathLike,
        settings: tokenizer_lib.TokenizerSettings,
        *,
        default_seq_length: int = 128,
        max_num_segments: int = 3,
        name: str = "bert_preprocessor",
    ):
        super().__init__(name=name)
        if not isinstance(default_seq_length, int) or default_seq_length < 2:
            raise ValueError(
                f"default_seq_length: expected an int >= 2, found {default_seq_length!r}"
            )
        if not isinstance(max_num_segments, int) or max_num_segments < 1:
            raise ValueError(f"max_num_segments: expected an int >= 1, found {max_num_segments!r}")
        self.settings = settings
        self.default_seq_length = default_seq_length
        self.max_num_segments = max_num_segments
        self._tokenizer = tokenizer_lib.BertTokenizer(vocab_file, settings)
        self.tokenize = Tokenize(self._tokenizer, vocab_file)
        ids = self._tokenizer.special_token_ids
        self._special = packing.SpecialTokenIds(
            start_of_sequence_id=ids["start_of_sequence_id"],
            end_of_segment_id=ids["end_of_segment_id"],
            padding_id=ids["padding_id"],
        )

    def get_special_tokens_dict(self) -> dict[str, int]:
        """Python ints; the saved form is `tokenize.get_special_tokens_dict()`."""
        return dict(self._tokenizer.special_token_ids)

    @tf.function(input_signature=[_STRINGS_SPEC], autograph=False)
    def __call__(self, strings):
        """string `[batch]` -> dict of int32 `[batch, default_seq_length]`."""
        # Calls the `tokenize` tf.function: one tokenizer graph in the SavedModel
        # (and one trace at save), shared by `tokenize`, this and serving_default.
        return self._pack([self.tokenize(strings)], self.default_seq_length)

    @tf.function(input_signature=[_STRINGS_SPEC], autograph=False)
    def tokenize_with_offsets(self, strings):
        """string `[batch]` -> (int32 ids, int64 starts, int64 limits), each
        `[batch, (words), (wordpieces)]`; offsets are bytes of the input."""
        return self._tokenizer.tokenize_with_offsets(strings)

    @tf.function(autograph=False)
    def bert_pack_inputs(self, inputs, seq_length=None):
        """Packs a list of token tensors (see `packing.bert_pack_inputs`).

        Args:
          inputs: list of 1 or more int32 RaggedTensors `[batch, (words),
            (wordpieces)]`.
          seq_length: output length; `default_seq_length` when `None`.

        Returns:
          dict of int32 `[batch, seq_length]` tensors `input_word_ids`,
          `input_mask`, `input_type_ids`.
        """
        if seq_length is None:
            seq_length = self.default_seq_length
        return self._pack(inputs, seq_length)

    def _pack(self, segments, seq_length):
        return packing.bert_pack_inputs(segments, seq_length, self._special)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")], autograph=False)
    def _default_save_signature(self, text):
        # `tf.saved_model.save` makes this the `serving_default` signature.
        return self(text)

    def trace_for_saving(self):
        """Traces `bert_pack_inputs` for 1..max_num_segments, with and without
        an explicit `seq_length` (an int32 scalar, so any value works)."""
        for n in range(1, self.max_num_segments + 1):
            specs = [_TOKENS_SPEC] * n
            self.bert_pack_inputs.get_concrete_function(specs)
            self.bert_pack_inputs.get_concrete_function(
                specs, seq_length=tf.TensorSpec([], tf.int32)
            )

    def save(self, path: str | os.PathLike) -> None:
        """Writes the SavedModel (same as `tf.saved_model.save(self, path)`)."""
        tf.saved_model.save(self, os.fspath(path))


def build_preprocess_model(
    vocab_file: str | os.PathLike,
    settings: tokenizer_lib.TokenizerSettings,
    *,
    default_seq_length: int = 128,
    max_num_segments: int = 3,
) -> BertPreprocessor:
    """Builds the saveable preprocessing model, ready for `tf.saved_model.save`.

    Args:
      vocab_file: path of `vocab.txt` (saved as an asset).
      settings: `TokenizerSettings`.
      default_seq_length: `seq_length` of `__call__` / `serving_default`.
      max_num_segments: most segments `bert_pack_inputs` accepts once saved.

    Returns:
      A `BertPreprocessor` whose `bert_pack_inputs` is traced for 1 to
      `max_num_segments` segments (what the SavedModel exports). Its other
      functions have input signatures: they are traced at first call or at
      save, not here (`tf.saved_model.save` traces every function again in
      its own context, so tracing them here would only double the cost).
    """
    model = BertPreprocessor(
        vocab_file,
        settings,
        default_seq_length=default_seq_length,
        max_num_segments=max_num_segments,
    )
    model.trace_for_saving()
    return model
