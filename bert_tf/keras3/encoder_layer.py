"""`EncoderLayer`: an export's `encoder/` SavedModel as a trainable Keras 3 layer.

What `hub.KerasLayer(ENCODER_DIR, trainable=True)` is in Keras 2, for Keras 3:
the restored object's own `__call__(inputs, training)` runs (dropout with
`training=True`, deterministic with `training=False`), and its own
`tf.Variable`s are the layer's weights, each wrapped (not copied) in a
`keras.Variable` whose name Keras 3 optimizers accept.

`keras.layers.TFSMLayer` wraps the same variables but keeps their TF names
(`embeddings/word_embeddings:0`): every optimizer with slots (Adam, AdamW)
then fails with "... is not a valid scope name"; and its `serving_default`
endpoint has no training mode. See docs/keras3.md.

Examples:

    import keras
    from bert_tf.keras3 import EncoderLayer, PreprocessLayer

    preprocess = PreprocessLayer("exports/all-MiniLM-L6-v2/preprocess", seq_length=64)
    encoder = EncoderLayer("exports/all-MiniLM-L6-v2/encoder", trainable=True)
    text = keras.Input(shape=(), dtype="string")
    pooled = encoder(preprocess(text))["pooled_output"]         # [batch, 384]
    model = keras.Model(text, keras.layers.Dense(2)(pooled))
    model.compile(optimizer=keras.optimizers.AdamW(2e-5),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
"""

from __future__ import annotations

import os
import re

import keras
import tensorflow as tf

from bert_tf import interface
from bert_tf.interface import (
    ENCODER_INPUTS,
    ENCODER_OUTPUTS,
    INPUT_WORD_IDS,
    MLM_ENDPOINT,
    MLM_LOGITS,
    MLM_POSITIONS,
    ExportDirError,
)
from bert_tf.keras3 import loading

# What a Keras 3 variable name may hold: TF name scopes (optimizer slots are
# created under one named after the variable) take no ":" and Keras names no "/".
_INVALID_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9_.\-]")


def keras_variable_name(tf_name: str) -> str:
    """A TF variable name as a valid Keras 3 one.

    >>> keras_variable_name("transformer/layer_0/attention/query/kernel:0")
    'transformer_layer_0_attention_query_kernel'
    """
    return _INVALID_NAME_CHARACTERS.sub("_", tf_name.split(":")[0])


@keras.saving.register_keras_serializable(package="bert_tf")
class EncoderLayer(keras.layers.Layer):
    """Runs an export's encoder (or its `mlm` endpoint) on the encoder-inputs dict.

    The export computes in float32, so the layer does too, whatever the global
    `keras.mixed_precision` policy: its outputs are float32 and the layers after
    it cast them to their own compute dtype. Construct it inside a
    `tf.distribute` strategy's scope to train it there: the SavedModel is
    restored in `__init__`, and restored under a strategy its variables are the
    strategy's.

    Args:
        path: the export's `encoder/` folder (or the export folder). Saved by
            `get_config` as given: a `.keras` file holds the fine-tuned weights
            and refers to the export by path for the computation.
        trainable: whether the encoder's weights are trained.
        endpoint: None for the encoder; "mlm" for the masked-LM endpoint of an
            export made with `--with_mlm` (also trains the head's weights).
        dropout: False runs the export's inference computation also while
            training (no dropout: a training step is then a deterministic
            function of the batch). A functional Keras 3 model passes its own
            `training` to every layer, overriding a `training=False` given when
            the model was built, so this is the way to turn the dropout off.
        **kwargs: `keras.layers.Layer` arguments (`name`; `dtype` only float32).

    Call arguments:
        inputs: dict of int `[batch, seq_length]` tensors `input_word_ids`,
            `input_mask`, `input_type_ids` (a `PreprocessLayer`'s output); for
            "mlm" also `masked_lm_positions` `[batch, num_predictions]`.
        training: runs the export's dropout when True (and `dropout` is).

    Returns:
        dict: `pooled_output` `[batch, hidden]`, `sequence_output` `[batch,
        seq_length, hidden]`, `encoder_outputs` (list of `num_layers` x `[batch,
        seq_length, hidden]`), `default` (= `pooled_output`); for "mlm" also
        `mlm_logits` `[batch, num_predictions, vocab_size]`. All float32.

    Raises:
        ExportDirError: `path` is not an `encoder/` SavedModel (a `preprocess/`
            one, say), or has no "mlm" endpoint.
        LayerArgumentError: unknown endpoint, a dtype other than float32, an
            input without the encoder's keys or longer than
            `max_position_embeddings`.
    """

    def __init__(
        self,
        path: os.PathLike | str,
        trainable: bool = True,
        endpoint: str | None = None,
        dropout: bool = True,
        **kwargs,
    ):
        dtype = kwargs.pop("dtype", None)
        if dtype is not None and keras.dtype_policies.get(dtype).compute_dtype != "float32":
            raise loading.LayerArgumentError(
                f"dtype: the export computes in float32, found {keras.dtype_policies.get(dtype).name!r}"
            )
        super().__init__(trainable=trainable, dtype="float32", **kwargs)
        if endpoint not in (None, MLM_ENDPOINT):
            raise loading.LayerArgumentError(
                f"endpoint: expected None or {MLM_ENDPOINT!r}, found {endpoint!r}"
            )
        self.source_path = os.fspath(path)
        self.endpoint = endpoint
        self.dropout = bool(dropout)
        self.folder, self.restored = loading.load_part(path, interface.ENCODER_DIR)
        if endpoint is None:
            self.encoder = self.restored
            self.input_keys = ENCODER_INPUTS
        else:
            if not hasattr(self.restored, MLM_ENDPOINT):
                raise ExportDirError(
                    f"{self.folder}: no {MLM_ENDPOINT!r} endpoint (export with --with_mlm)"
                )
            self.encoder = getattr(self.restored, MLM_ENDPOINT)
            self.input_keys = (*ENCODER_INPUTS, MLM_POSITIONS)
        self.max_seq_length = loading.max_position_embeddings(self.folder)
        self.output_shapes = _output_shapes(self.encoder)

    def __call__(self, inputs, *args, **kwargs):
        # Checked before Keras's call wrapper, which turns errors into multi-line ones.
        missing = [k for k in self.input_keys if not _has_key(inputs, k)]
        if missing:
            raise loading.LayerArgumentError(
                f"inputs: expected a dict with {', '.join(self.input_keys)}, "
                f"missing {', '.join(missing)}"
            )
        length = inputs[INPUT_WORD_IDS].shape[1] if len(inputs[INPUT_WORD_IDS].shape) > 1 else None
        if length is not None:
            loading.check_seq_length(int(length), self.max_seq_length, self.folder)
        return super().__call__(inputs, *args, **kwargs)

    def build(self, input_shape=None):
        # The restored variables themselves, under names Keras 3 optimizers
        # accept: `keras.Variable(initializer=tf.Variable)` wraps, it does not
        # copy, so training updates what the restored functions compute with.
        self.encoder_variables = [
            keras.Variable(
                initializer=variable,
                shape=variable.shape,
                dtype=variable.dtype,
                trainable=variable.trainable,
                name=keras_variable_name(variable.name),
            )
            for variable in self.encoder.variables
        ]

    def call(self, inputs, training=False):
        feed = {k: tf.cast(inputs[k], tf.int32) for k in self.input_keys}
        outputs = self.encoder(feed, training=bool(training) and self.dropout)
        return {
            k: list(outputs[k]) if k == ENCODER_OUTPUTS else outputs[k] for k in self.output_shapes
        }

    def compute_output_spec(self, inputs, training=False):
        batch, length = tuple(inputs[INPUT_WORD_IDS].shape)[:2]
        sizes = {"batch": batch, "seq_length": length}
        if MLM_POSITIONS in self.input_keys:
            sizes["num_predictions"] = tuple(inputs[MLM_POSITIONS].shape)[1]

        def spec(shape):
            return keras.KerasTensor(tuple(sizes.get(d, d) for d in shape), dtype="float32")

        return {
            k: [spec(s) for s in shape] if k == ENCODER_OUTPUTS else spec(shape)
            for k, shape in self.output_shapes.items()
        }

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "path": self.source_path,
            "endpoint": self.endpoint,
            "dropout": self.dropout,
        }


def _has_key(inputs, key: str) -> bool:
    try:
        inputs[key]
    except (KeyError, TypeError, IndexError):
        return False
    return True


def _output_shapes(encoder) -> dict:
    """Output key -> symbolic shape (dims "batch", "seq_length", ... or ints), from the
    restored call traced for `training=False`."""
    concrete = next(
        f
        for f in encoder.__call__.concrete_functions
        if f.structured_input_signature[0][1:] == (False,)
        or f.structured_input_signature[1].get("training") is False
    )
    outputs = concrete.structured_outputs
    hidden = outputs[interface.POOLED_OUTPUT].shape[-1]
    shapes: dict = {}
    for key in interface.OUTPUTS:
        if key == ENCODER_OUTPUTS:
            shapes[key] = [("batch", "seq_length", hidden)] * len(outputs[key])
        elif outputs[key].shape.rank == 2:
            shapes[key] = ("batch", hidden)
        else:
            shapes[key] = ("batch", "seq_length", hidden)
    if MLM_LOGITS in outputs:
        shapes[MLM_LOGITS] = ("batch", "num_predictions", outputs[MLM_LOGITS].shape[-1])
    return shapes
