"""The pre-training heads: masked-LM and next-sentence prediction.

`build_mlm_model(encoder, config)` and `build_nsp_model(encoder, config)` wrap
an encoder (sharing its layers and weights) into models with the encoder's
dict inputs and outputs plus the head's logits (float32 under any policy).
The masked-LM output layer is the word embedding table itself (tied, no copy)
plus an output bias.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras

from bert_tf import layers
from bert_tf.config import BertConfig
from bert_tf.encoder import INPUT_NAMES, BertEncoder, encoder_inputs


@tf_keras.saving.register_keras_serializable(package="bert_tf")
class MaskedLMHead(tf_keras.layers.Layer):
    """Gathers positions, transforms them, and scores them against the vocabulary.

    Call: `head(sequence_output, masked_lm_positions)` with `[batch, seq, hidden]`
    and int32 `[batch, num_predictions]` returns float32 logits
    `[batch, num_predictions, vocab_size]`.

    Args:
        embedding_layer: the encoder's `BertEmbeddings`; its `word_embeddings`
            `[vocab_size, hidden]` is the output projection (tied). A shared
            layer, so `get_config` leaves it out: pass it again to rebuild.

    Attributes (the weights the checkpoint readers fill):
        transform: `Dense` `[hidden, hidden]`, then the activation.
        layer_norm: `LayerNorm` after the transform.
        output_bias: `[vocab_size]`.
    """

    def __init__(
        self,
        embedding_layer: layers.BertEmbeddings,
        hidden_act: str,
        layer_norm_eps: float,
        initializer_range: float,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.embedding_layer = embedding_layer
        self.hidden_act = hidden_act
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range
        self._activation = layers.activation(hidden_act)
        self.transform = tf_keras.layers.Dense(
            embedding_layer.hidden_size,
            kernel_initializer=layers.initializer(initializer_range),
            name="transform",
        )
        self.layer_norm = layers.LayerNorm(
            epsilon=layer_norm_eps, dtype=self.variable_dtype, name="layer_norm"
        )

    def build(self, input_shape):
        hidden = self.embedding_layer.hidden_size
        layers.build_sublayer(self.transform, [None, None, hidden])
        layers.build_sublayer(self.layer_norm, [None, None, hidden])
        self.output_bias = self.add_weight(
            "output_bias", shape=[self.embedding_layer.vocab_size], initializer="zeros"
        )
        super().build(input_shape)

    def call(self, sequence_output, masked_lm_positions):
        x = tf.gather(sequence_output, masked_lm_positions, batch_dims=1)
        x = self.layer_norm(self._activation(self.transform(x)))  # variable dtype (LayerNorm)
        # The vocab projection computes in the policy's dtype; the shared table
        # is a float32 variable under a mixed policy (`BertEmbeddings`).
        x = tf.cast(x, self.compute_dtype)
        table = tf.cast(self.embedding_layer.word_embeddings, self.compute_dtype)
        logits = tf.matmul(x, table, transpose_b=True)
        return tf.cast(logits + self.output_bias, tf.float32)

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_act=self.hidden_act,
            layer_norm_eps=self.layer_norm_eps,
            initializer_range=self.initializer_range,
        )
        return config


def build_mlm_model(encoder: BertEncoder, config: BertConfig) -> tf_keras.Model:
    """The encoder plus the masked-LM head (layer name `mlm`).

    Returns:
        A `tf_keras.Model`: inputs are the encoder's dict plus
        `masked_lm_positions` int32 `[batch, num_predictions]`; outputs are the
        encoder's dict plus `mlm_logits` `[batch, num_predictions, vocab_size]`.
    """
    inputs = encoder_inputs()
    inputs["masked_lm_positions"] = tf_keras.Input(
        shape=(None,), dtype=tf.int32, name="masked_lm_positions"
    )
    outputs = dict(encoder({k: inputs[k] for k in INPUT_NAMES}))
    head = MaskedLMHead(
        encoder.embeddings,
        hidden_act=config.hidden_act,
        layer_norm_eps=config.layer_norm_eps,
        initializer_range=config.initializer_range,
        name="mlm",
    )
    outputs["mlm_logits"] = head(outputs["sequence_output"], inputs["masked_lm_positions"])
    return tf_keras.Model(inputs=inputs, outputs=outputs, name=f"{encoder.name}_mlm")


def build_nsp_model(encoder: BertEncoder, config: BertConfig) -> tf_keras.Model:
    """The encoder plus the next-sentence head (a `Dense(2)` named `nsp`).

    Returns:
        A `tf_keras.Model`: the encoder's dict inputs -> the encoder's dict
        outputs plus `nsp_logits` float32 `[batch, 2]`.
    """
    inputs = encoder_inputs()
    outputs = dict(encoder(inputs))
    head = tf_keras.layers.Dense(
        2,
        kernel_initializer=layers.initializer(config.initializer_range),
        dtype="float32",
        name="nsp",
    )
    outputs["nsp_logits"] = head(outputs["pooled_output"])
    return tf_keras.Model(inputs=inputs, outputs=outputs, name=f"{encoder.name}_nsp")
