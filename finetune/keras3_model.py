"""The Keras 3 side of `bert-tf-finetune --keras=3`: packer, classifier and optimizer.

The same model, recipe and interfaces as the Keras 2 side (`finetune.model`,
`finetune.optimization`), on the `bert_tf.keras3` layers, so that the one
training loop (`finetune.train`, `finetune.trainer`), the input pipelines and
the exported `classifier/` (`finetune.serving`) serve both:

- the packer maps a dict of string segments to the encoder inputs (it runs
  in `tf.data`: Keras 3.15 cannot feed string inputs to a model under a
  `tf.distribute` strategy);
- the classifier maps the encoder inputs to `{"logits", "probabilities"}`;
- the optimizer is Keras 3's AdamW on the same warmup / linear-decay schedule,
  without weight decay on LayerNorm parameters and biases.

Importing this module imports Keras 3; the Keras 2 path never does.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf

from bert_tf.finetune import optimization
from bert_tf.interface import ENCODER_INPUTS, ExportDirError
from bert_tf.keras3 import EncoderLayer, PreprocessLayer


class SegmentPacker(tf.Module):
    """A dict of string segments `[batch]` -> the encoder-inputs dict `[batch, seq_length]`.

    Args:
        preprocess_dir: the export's `preprocess/` SavedModel.
        seq_length: the packed length.
        segment_names: the dict's keys, in packing order.
    """

    def __init__(self, preprocess_dir: str, seq_length: int, segment_names: Sequence[str]):
        super().__init__(name="packer")
        self.segment_names = tuple(segment_names)
        self.preprocess = PreprocessLayer(preprocess_dir, seq_length=seq_length)
        if len(self.segment_names) not in self.preprocess.num_segments:
            raise ExportDirError(
                f"{preprocess_dir}: bert_pack_inputs is not exported for "
                f"{len(self.segment_names)} segments ({', '.join(self.segment_names)}); "
                f"it is for {', '.join(map(str, self.preprocess.num_segments))}"
            )

    def __call__(self, segments):
        packed = self.preprocess([segments[name] for name in self.segment_names])
        return {key: packed[key] for key in ENCODER_INPUTS}


@keras.saving.register_keras_serializable(package="bert_tf_finetune")
class CheckpointedDropout(keras.layers.Layer):
    """Dropout drawing from a `tf.random.Generator` the layer owns (Keras 3).

    As `finetune.model.CheckpointedDropout`: the generator's state is tracked,
    so `tf.train.Checkpoint(model=...)` saves it and a resumed run draws the
    masks the uninterrupted run would have; each replica draws its own stream.
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"{self.name}: expected a dropout rate in [0, 1), found {rate}")
        self.rate = float(rate)
        self.seed = seed
        with tf.init_scope():
            self.generator = (
                tf.random.Generator.from_non_deterministic_state()
                if seed is None
                else tf.random.Generator.from_seed(seed)
            )

    def call(self, inputs, training=False):
        if not training or self.rate == 0.0:
            return inputs
        return tf.nn.experimental.general_dropout(
            inputs, rate=self.rate, uniform_sampler=self.generator.uniform
        )

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def build_classifier(
    encoder_dir: str,
    num_classes: int,
    *,
    dropout_rate: float = 0.1,
    encoder_dropout: bool = True,
    seed: int | None = None,
    name: str = "nli_classifier",
) -> keras.Model:
    """Encoder inputs -> trainable `EncoderLayer` -> dropout -> dense -> logits, probabilities.

    Build it inside the strategy's scope. Arguments and outputs as
    `finetune.model.build_classifier`: int32 `[batch, seq_length]` encoder
    inputs -> float32 `logits` and `probabilities` `[batch, num_classes]`.
    """
    # Keras 3 passes the model's `training` to every layer, whatever the layer
    # was called with while building: `dropout=False` is how to keep it off.
    encoder = EncoderLayer(encoder_dir, trainable=True, dropout=encoder_dropout, name="encoder")
    inputs = {k: keras.Input(shape=(None,), dtype="int32", name=k) for k in ENCODER_INPUTS}
    outputs = encoder(inputs)
    x = CheckpointedDropout(dropout_rate, seed=seed, name="dropout")(outputs["pooled_output"])
    logits = keras.layers.Dense(
        num_classes,
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02, seed=seed),
        name="logits",
    )(x)
    logits = keras.layers.Activation("linear", dtype="float32", name="logits_float32")(logits)
    probabilities = keras.layers.Activation("softmax", dtype="float32", name="probabilities")(
        logits
    )
    return keras.Model(inputs, {"logits": logits, "probabilities": probabilities}, name=name)


@keras.saving.register_keras_serializable(package="bert_tf_finetune")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """`finetune.optimization.warmup_linear_decay` as a Keras 3 schedule."""

    def __init__(self, peak: float, warmup_steps: int, total_steps: int):
        optimization.check_schedule(warmup_steps, total_steps)
        self.peak = float(peak)
        self.warmup_steps = int(warmup_steps)
        self.total_steps = int(total_steps)

    def __call__(self, step):
        return optimization.warmup_linear_decay(
            step, self.peak, self.warmup_steps, self.total_steps
        )

    def get_config(self):
        return {
            "peak": self.peak,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
        }


def build_optimizer(
    learning_rate: float,
    total_steps: int,
    warmup_fraction: float = 0.1,
    *,
    weight_decay: float = 0.01,
    mixed_precision: str = "none",
) -> keras.optimizers.Optimizer:
    """Keras 3 AdamW with `finetune.optimization.build_optimizer`'s settings.

    With "mixed_float16" it is wrapped in Keras 3's `LossScaleOptimizer`. Call
    it inside the strategy's scope. (Keras 3 optimizers take no `jit_compile`:
    `TrainConfig.jit_compile` compiles the replica's forward and backward pass.)
    No `global_clipnorm`: Keras 3 clips each replica's part of the gradient
    before it sums the replicas', so under a strategy it would clip another
    gradient than one device does; `finetune.trainer` clips the sum instead.
    """
    schedule = WarmupLinearDecay(
        learning_rate,
        optimization.warmup_steps(warmup_fraction, total_steps),
        total_steps,
    )
    optimizer = keras.optimizers.AdamW(
        learning_rate=schedule,
        weight_decay=weight_decay,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-6,
    )
    optimizer.exclude_from_weight_decay(var_names=list(optimization.NO_DECAY_NAMES))
    if mixed_precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def set_policy(policy: str) -> str:
    """Sets Keras 3's global dtype policy; returns the previous policy's name."""
    previous = keras.config.dtype_policy().name
    keras.config.set_dtype_policy(policy)
    return previous
