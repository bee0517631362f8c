"""`PreprocessLayer`: an export's `preprocess/` SavedModel as a Keras 3 layer.

Strings in, the encoder-inputs dict out, through the export's own `tokenize`
and `bert_pack_inputs` (the same ids as `preprocess.bert_pack_inputs(
[preprocess.tokenize(s) for s in segments], seq_length=N)`).

Examples:

    import keras
    from bert_tf.keras3 import PreprocessLayer

    preprocess = PreprocessLayer("exports/all-MiniLM-L6-v2/preprocess", seq_length=64)
    packed = preprocess(["A dog runs.", "A cat sleeps."])    # one segment
    packed["input_word_ids"].shape                            # (2, 64)
    premise = keras.Input(shape=(), dtype="string")
    hypothesis = keras.Input(shape=(), dtype="string")
    packed = preprocess([premise, hypothesis])                # two segments, symbolic
"""

from __future__ import annotations

import os

import keras
import tensorflow as tf

from bert_tf import interface
from bert_tf.interface import ENCODER_INPUTS, ExportDirError
from bert_tf.keras3 import loading


@keras.saving.register_keras_serializable(package="bert_tf")
class PreprocessLayer(keras.layers.Layer):
    """Tokenizes and packs 1 to 3 string segments with an export's `preprocess/` model.

    String work cannot run under XLA, so the layer sets `supports_jit = False`
    (a model holding it compiles with `jit_compile=False` when left on "auto").
    It has no weights: the vocab is a lookup table of the restored SavedModel,
    and a `model.export()` of a model holding the layer carries it as an asset.

    Args:
        path: the export's `preprocess/` folder (or the export folder). Saved
            by `get_config` as given: a `.keras` file refers to the export by
            path, it does not embed it.
        seq_length: the packed length; longer inputs are trimmed round-robin.
            None: the export's default (`preprocess(strings)`'s length, 128
            unless exported otherwise). At most the encoder's
            `max_position_embeddings` when the export's metadata tells it.
        **kwargs: `keras.layers.Layer` arguments (`name`, ...).

    Call arguments:
        inputs: one string tensor `[batch]`, or a list of 1 to
            `max_num_segments` (3 by default) of them.

    Returns:
        dict of int32 `[batch, seq_length]` tensors `input_word_ids`,
        `input_mask`, `input_type_ids`.

    Raises:
        ExportDirError: `path` is not a `preprocess/` SavedModel (at
            construction), or the export has no `bert_pack_inputs` for the
            number of segments given (at call).
        LayerArgumentError: `seq_length` is not an int >= 2 or exceeds
            `max_position_embeddings`.
    """

    def __init__(self, path: os.PathLike | str, seq_length: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.source_path = os.fspath(path)
        self.seq_length = seq_length
        self.supports_jit = False
        self.folder, self.preprocessor = loading.load_part(path, interface.PREPROCESS_DIR)
        self.num_segments = sorted(
            {len(f.structured_input_signature[0][0]) for f in _concrete(self.preprocessor)}
        )
        metadata = interface.read_metadata(self.folder.parent)
        if seq_length is None:
            seq_length = (
                metadata.default_seq_length if metadata is not None else _traced_length(self)
            )
        if isinstance(seq_length, bool) or not isinstance(seq_length, int) or seq_length < 2:
            raise loading.LayerArgumentError(
                f"seq_length: expected an int >= 2 or None, found {seq_length!r}"
            )
        loading.check_seq_length(
            seq_length, loading.max_position_embeddings(self.folder), self.folder
        )
        self.packed_length = seq_length

    def __call__(self, inputs, *args, **kwargs):
        # Checked before Keras's call wrapper, which turns errors into multi-line ones.
        segments = inputs if isinstance(inputs, list | tuple) else [inputs]
        if len(segments) not in self.num_segments:
            raise ExportDirError(
                f"{self.folder}: bert_pack_inputs is exported for "
                f"{', '.join(map(str, self.num_segments))} segments, found {len(segments)}"
            )
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs):
        segments = inputs if isinstance(inputs, list | tuple) else [inputs]
        tokens = [self.preprocessor.tokenize(tf.reshape(s, [-1])) for s in segments]
        packed = self.preprocessor.bert_pack_inputs(
            tokens, seq_length=tf.constant(self.packed_length, tf.int32)
        )
        return {k: tf.ensure_shape(packed[k], [None, self.packed_length]) for k in ENCODER_INPUTS}

    def compute_output_spec(self, inputs):
        first = inputs[0] if isinstance(inputs, list | tuple) else inputs
        shape = (first.shape[0] if first.shape else None, self.packed_length)
        return {k: keras.KerasTensor(shape, dtype="int32", name=k) for k in ENCODER_INPUTS}

    def tokenize(self, strings) -> tf.RaggedTensor:
        """string `[batch]` -> int32 RaggedTensor `[batch, (words), (wordpieces)]`."""
        return self.preprocessor.tokenize(tf.convert_to_tensor(strings, tf.string))

    def get_special_tokens_dict(self) -> dict[str, int]:
        """`vocab_size`, `start_of_sequence_id`, `end_of_segment_id`, `padding_id`,
        `mask_id` (-1 when the vocab has no `[MASK]`), as Python ints."""
        special = self.preprocessor.tokenize.get_special_tokens_dict()
        return {k: int(v) for k, v in special.items()}

    def get_config(self) -> dict:
        return {**super().get_config(), "path": self.source_path, "seq_length": self.seq_length}


def _concrete(preprocessor):
    return preprocessor.bert_pack_inputs.concrete_functions


def _traced_length(layer: PreprocessLayer) -> int:
    # A TF Hub preprocess model without bert-tf metadata: its default length
    # is what `preprocess(strings)` packs to.
    probe = layer.preprocessor(tf.constant([""]))
    return int(probe[ENCODER_INPUTS[0]].shape[1])
