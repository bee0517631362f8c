"""The NLI classifier on an exported pair, built the way TF Hub users build it.

Two Keras models, so that string work stays on the host and the accelerator
sees only integer tensors:

* :func:`build_packer` -- N string inputs (one per segment) -> ``tokenize``
  each -> ``bert_pack_inputs`` -> the encoder inputs dict. Both are
  ``hub.KerasLayer`` wrappers of the exported ``preprocess/`` model. The
  training pipeline runs it inside ``tf.data.Dataset.map`` on the host CPU.
* :func:`build_classifier` -- the encoder inputs dict -> trainable
  ``hub.KerasLayer`` encoder -> ``pooled_output`` -> dropout -> dense ->
  ``{"logits", "probabilities"}``. This is what the strategy replicates.

:func:`build_text_classifier` chains the two into one string-in model (what the
serving export wraps). Two segments (premise, hypothesis) and three (premise,
hypothesis, context; or a multiple-choice question, context, option) go
through the same code: ``bert_pack_inputs`` takes a list of any length the
export traced.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf
import tensorflow_hub as hub
import tensorflow_text  # noqa: F401  (registers the tf-text ops that preprocess/ uses)
import tf_keras

from bert_tf.finetune.config import DEFAULT_SEGMENTS
from bert_tf.interface import ENCODER_INPUTS, ExportDirError


@tf_keras.utils.register_keras_serializable(package="bert_tf_finetune")
class CheckpointedDropout(tf_keras.layers.Layer):
    """Dropout drawing from a `tf.random.Generator` owned by the layer.

    The generator's state is a variable tracked by the layer, so
    `tf.train.Checkpoint(model=...)` saves it: a run restored from a
    checkpoint draws the same masks as the run that wrote it would have.
    (`tf_keras.layers.Dropout` keeps its random state outside checkpoints.)
    Under a `tf.distribute` strategy each replica draws its own stream.

    Args:
      rate: fraction of the inputs to drop while training, in [0, 1).
      seed: seed of the generator; None draws one from the OS.
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"{self.name}: expected a dropout rate in [0, 1), found {rate}")
        self.rate = float(rate)
        self.seed = seed

    def build(self, input_shape):
        with tf.init_scope():
            self.generator = (
                tf.random.Generator.from_non_deterministic_state()
                if self.seed is None
                else tf.random.Generator.from_seed(self.seed)
            )
        super().build(input_shape)

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        return tf.nn.experimental.general_dropout(
            inputs, rate=self.rate, uniform_sampler=self.generator.uniform
        )

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def build_packer(
    preprocess_dir: str,
    seq_length: int,
    segment_names: Sequence[str] = DEFAULT_SEGMENTS,
    *,
    name: str = "packer",
) -> tf_keras.Model:
    """Strings -> encoder inputs, through the export's `tokenize` and `bert_pack_inputs`.

    Args:
      preprocess_dir: the export's `preprocess/` SavedModel.
      seq_length: the packed length; longer inputs are trimmed round-robin.
      segment_names: one name per segment, in packing order.
      name: the model's name.

    Returns:
      A model from a dict of string tensors `[batch]` keyed by
      `segment_names` to a dict of int32 `[batch, seq_length]` tensors keyed by
      `ENCODER_INPUTS`.
    """
    if len(segment_names) < 1 or len(set(segment_names)) != len(segment_names):
        raise ValueError(f"segment_names: expected distinct names, found {list(segment_names)}")
    preprocessor = hub.load(preprocess_dir)
    tokenize = hub.KerasLayer(preprocessor.tokenize, name="tokenize")
    bert_pack_inputs = hub.KerasLayer(
        preprocessor.bert_pack_inputs,
        arguments=dict(seq_length=seq_length),
        name="bert_pack_inputs",
    )
    inputs = {s: tf_keras.layers.Input(shape=(), dtype=tf.string, name=s) for s in segment_names}
    try:
        packed = bert_pack_inputs([tokenize(inputs[s]) for s in segment_names])
    except ValueError as e:
        if "Could not find matching concrete function" not in str(e):
            raise
        raise ExportDirError(
            f"{preprocess_dir}: bert_pack_inputs is not exported for {len(segment_names)} segments "
            f"({', '.join(segment_names)}); exports trace 1 to max_num_segments (3 by default)"
        ) from None
    packer = tf_keras.Model(inputs, {k: packed[k] for k in ENCODER_INPUTS}, name=name)
    # The layers hold the loaded functions; the vocab table they use belongs to
    # the loaded object. Tracking it makes SavedModels of the packer carry it.
    packer.preprocessor = preprocessor
    return packer


def build_classifier(
    encoder_dir: str,
    num_classes: int,
    *,
    dropout_rate: float = 0.1,
    encoder_dropout: bool = True,
    seed: int | None = None,
    name: str = "nli_classifier",
) -> tf_keras.Model:
    """Encoder inputs -> trainable encoder -> dropout -> dense softmax.

    Build it inside the strategy's scope. Under a mixed-precision policy the
    dropout and dense layers compute in the policy's dtype; the encoder runs
    the computation the SavedModel was exported with (float32); the outputs
    are float32.

    Args:
      encoder_dir: the export's `encoder/` SavedModel.
      num_classes: number of labels.
      dropout_rate: dropout on the pooled output while training.
      encoder_dropout: whether the encoder runs its own dropout while training
        (`hub.KerasLayer` passes `training` through). Turning it off makes a
        training step a deterministic function of the data.
      seed: seeds the dense initializer and the head's dropout. The dropout
        draws from a `tf.random.Generator` whose state is a variable of the
        model, so it is checkpointed and a resumed run draws the same masks.
      name: the model's name.

    Returns:
      A model from the int32 `[batch, seq_length]` dict of `ENCODER_INPUTS` to
      `{"logits": [batch, num_classes], "probabilities": [batch, num_classes]}`,
      both float32.
    """
    encoder = hub.KerasLayer(encoder_dir, trainable=True, dtype="float32", name="encoder")
    inputs = {
        k: tf_keras.layers.Input(shape=(None,), dtype=tf.int32, name=k) for k in ENCODER_INPUTS
    }
    outputs = encoder(inputs) if encoder_dropout else encoder(inputs, training=False)
    pooled = outputs["pooled_output"]
    x = CheckpointedDropout(dropout_rate, seed=seed, name="dropout")(pooled)
    logits = tf_keras.layers.Dense(
        num_classes,
        kernel_initializer=tf_keras.initializers.TruncatedNormal(stddev=0.02, seed=seed),
        name="logits",
    )(x)
    logits = tf_keras.layers.Activation("linear", dtype="float32", name="logits_float32")(logits)
    probabilities = tf_keras.layers.Activation("softmax", dtype="float32", name="probabilities")(
        logits
    )
    return tf_keras.Model(inputs, {"logits": logits, "probabilities": probabilities}, name=name)


def build_text_classifier(
    packer: tf_keras.Model, classifier: tf_keras.Model, *, name: str = "nli_text_classifier"
) -> tf_keras.Model:
    """Chains `packer` and `classifier`: string segments -> probabilities.

    Returns:
      A model from the packer's string inputs to `{"probabilities": [batch,
      num_classes]}`; it shares the classifier's (trained) weights.
    """
    inputs = {k: tf_keras.layers.Input(shape=(), dtype=tf.string, name=k) for k in packer.input}
    probabilities = classifier(packer(inputs))["probabilities"]
    return tf_keras.Model(inputs, {"probabilities": probabilities}, name=name)
