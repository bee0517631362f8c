"""The `encoder/` SavedModel: a tf_keras encoder saved as a reusable TF Hub object.

The interface is specified in docs/interface.md (names: `bert_tf.interface`).
The saved root object is what `hub.load(ENCODER_DIR)` returns and what
`hub.KerasLayer(ENCODER_DIR, trainable=True)` wraps (the TF2 "reusable
SavedModel" API):

- `encoder(inputs, training=False)`: `inputs` is a dict of int32 tensors
  `input_word_ids`, `input_mask`, `input_type_ids`, each `[batch, seq_length]`
  (both dims dynamic); returns a dict with `pooled_output` `[batch, hidden]`,
  `sequence_output` `[batch, seq_length, hidden]`, `encoder_outputs` (a list of
  `num_layers` x `[batch, seq_length, hidden]`) and `default` (=
  `pooled_output`). Dropout is active only with `training=True`.
- `variables`, `trainable_variables`, `regularization_losses` (a list of
  argument-free functions): what `hub.KerasLayer` fine-tunes and regularizes.
- `serving_default` (signature and attribute): the same dict in, flat outputs
  out (`pooled_output`, `sequence_output`, `default`, `encoder_outputs_0` ...
  `encoder_outputs_{num_layers-1}`). It is the attribute that Keras 3's
  `keras.layers.TFSMLayer(ENCODER_DIR, call_endpoint="serving_default")` calls
  with one dict, and the signature TF Serving calls with named tensors.
- `tokens` (signature): the legacy TF1 Hub module interface, `input_ids`,
  `input_mask`, `segment_ids` -> `pooled_output`, `sequence_output`. It calls
  `serving_default`, so with XLA both signatures run one compiled program
  (compiled once per input shape, not once per signature). XLA runs inputs
  of up to `XLA_MAX_TOKENS` tokens; larger ones run the plain graph, where
  TensorFlow's oneDNN kernels are faster on CPU.
- `mlm` (only with the masked-LM head): `encoder.mlm(inputs, training=False)`
  takes the same dict plus `masked_lm_positions` int32 `[batch, num_predictions]`
  and returns the encoder outputs plus `mlm_logits`
  `[batch, num_predictions, vocab_size]`; it is itself a reusable object
  (`hub.KerasLayer(encoder.mlm, trainable=True)`).
- `nsp` (only with the next-sentence head): `encoder.nsp(inputs, training=False)`
  takes the encoder's dict and returns its outputs plus `nsp_logits`
  `[batch, 2]` (index 0: the second segment follows the first); reusable too.

Only the variables and these functions are saved, not the Keras layer objects:
saving and loading stay fast, and `trainable_variables` holds exactly the
encoder's weights (the MLM head's own weights live in `mlm` only).
"""

from __future__ import annotations

import os

import tensorflow as tf
import tf_keras

from bert_tf import interface
from bert_tf.interface import encoder_input_spec, flat_outputs, int_spec, mlm_input_spec

# With `jit_compile`, inputs of at most this many tokens (batch x seq_length)
# run the XLA-compiled program, larger ones the plain graph.
XLA_MAX_TOKENS = 1024


class ReusableModel(tf.train.Checkpoint):
    """A tf_keras model as a TF2 reusable SavedModel object (what `hub.KerasLayer` loads).

    Saves the model's variables and its call traced for `training=False` and
    `training=True`, not the Keras layer objects.

    Attributes:
        __call__: `(inputs, training=False) -> outputs` of the model.
        variables: every variable the call reads.
        trainable_variables: those fine-tuned by `hub.KerasLayer(..., trainable=True)`.
        regularization_losses: argument-free functions returning scalar losses
            (empty when the model has no regularizers).
    """

    def __init__(self, model: tf_keras.Model, input_spec: dict[str, tf.TensorSpec]):
        super().__init__()
        self.variables = list(model.variables)
        self.trainable_variables = list(model.trainable_variables)
        self.regularization_losses = []
        if model.losses:
            self.regularization_losses.append(
                tf.function(lambda: tf.add_n(model.losses), input_signature=[])
            )

        @tf.function
        def call(inputs, training=False):
            return model(inputs, training=training)

        for training in (False, True):
            call.get_concrete_function(input_spec, training=training)
        self.__call__ = call


class EncoderSavedModel(ReusableModel):
    """The root object of `encoder/`; see the module docstring for its interface."""

    def __init__(
        self,
        encoder: tf_keras.Model,
        *,
        mlm_model: tf_keras.Model | None = None,
        nsp_model: tf_keras.Model | None = None,
        jit_compile: bool = False,
    ):
        """Traces every endpoint of `encoder` (and of the heads' models).

        Args:
            encoder: the tf_keras encoder with the dict interface
                (`bert_tf.encoder.build_encoder`).
            mlm_model: the same encoder with the masked-LM head
                (`bert_tf.heads.build_mlm_model`), exported as `mlm`; or None.
            nsp_model: the same encoder with the next-sentence head
                (`bert_tf.heads.build_nsp_model`), exported as `nsp`; or None.
            jit_compile: compile the `serving_default` and `tokens` signatures
                with XLA for inputs of up to `XLA_MAX_TOKENS` tokens.
        """
        super().__init__(encoder, encoder_input_spec())
        call = self.__call__

        # Both signatures reuse the traced `__call__` (no new trace of the
        # Keras model), and `tokens` calls `serving_default`: one XLA program
        # serves both, compiled once per input shape.
        @tf.function(jit_compile=True)
        def compiled(inputs):
            return flat_outputs(call(inputs, training=False))

        @tf.function(input_signature=[encoder_input_spec()])
        def serving_default(inputs):
            if not jit_compile:
                return flat_outputs(call(inputs, training=False))
            # XLA pays where per-op dispatch dominates (few tokens); on larger
            # batches TensorFlow's oneDNN kernels are faster (MiniLM on CPU:
            # XLA ~1.1-1.4x faster at 1x32 and 1x128, even at 8x128, 0.8-0.9x at
            # 32x128 and 8x512).
            num_tokens = tf.size(inputs[interface.INPUT_WORD_IDS])
            return tf.cond(
                num_tokens <= XLA_MAX_TOKENS,
                lambda: compiled(inputs),
                lambda: flat_outputs(call(inputs, training=False)),
            )

        @tf.function(input_signature=[int_spec(name) for name in interface.TOKENS_INPUTS])
        def tokens(input_ids, input_mask, segment_ids):
            outputs = serving_default(
                dict(zip(interface.ENCODER_INPUTS, (input_ids, input_mask, segment_ids)))
            )
            return {key: outputs[key] for key in interface.TOKENS_OUTPUTS}

        self.serving_default = serving_default
        self.tokens = tokens
        if mlm_model is not None:
            setattr(self, interface.MLM_ENDPOINT, ReusableModel(mlm_model, mlm_input_spec()))
        if nsp_model is not None:
            setattr(self, interface.NSP_ENDPOINT, ReusableModel(nsp_model, encoder_input_spec()))

    @property
    def signatures(self) -> dict[str, tf.types.experimental.ConcreteFunction]:
        """The signatures to pass to `tf.saved_model.save`."""
        return {
            interface.SERVING_SIGNATURE: self.serving_default.get_concrete_function(),
            interface.TOKENS_SIGNATURE: self.tokens.get_concrete_function(),
        }


def save_encoder(
    encoder: tf_keras.Model,
    path: os.PathLike | str,
    *,
    mlm_model: tf_keras.Model | None = None,
    nsp_model: tf_keras.Model | None = None,
    jit_compile: bool = False,
) -> None:
    """Writes the `encoder/` SavedModel of docs/interface.md to `path`.

    Args:
        encoder: the tf_keras encoder with the dict interface.
        path: the SavedModel folder to write.
        mlm_model: the encoder with its masked-LM head, exported as `mlm`; or None.
        nsp_model: the encoder with its next-sentence head, exported as `nsp`; or None.
        jit_compile: compile the serving signatures with XLA.
    """
    root = EncoderSavedModel(
        encoder, mlm_model=mlm_model, nsp_model=nsp_model, jit_compile=jit_compile
    )
    tf.saved_model.save(root, os.fspath(path), signatures=root.signatures)
