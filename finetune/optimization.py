"""AdamW with linear warmup and linear decay, the BERT fine-tuning recipe.

The learning rate rises linearly from 0 to ``peak`` over ``warmup_steps``, then
falls linearly to 0 at ``total_steps``:

>>> schedule = WarmupLinearDecay(peak=1e-3, warmup_steps=10, total_steps=110)
>>> [round(float(schedule(s)), 6) for s in (0, 5, 10, 60, 110, 200)]
[0.0, 0.0005, 0.001, 0.0005, 0.0, 0.0]

Weight decay is decoupled (``tf_keras.optimizers.AdamW``: the update subtracts
``lr * weight_decay * w`` from each weight, apart from the Adam step) and, as
in BERT, not applied to LayerNorm parameters or biases.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras

# Substrings of variable names that get no weight decay (LayerNorm gamma/beta,
# every bias), matching Keras and TF1 checkpoint spellings.
NO_DECAY_NAMES = ("layer_norm", "layernorm", "LayerNorm", "bias", "beta", "gamma")
# The global norm the summed (all replicas') gradient is clipped to.
GLOBAL_CLIPNORM = 1.0


def check_schedule(warmup_steps: int, total_steps: int) -> None:
    """Raises ValueError unless `0 <= warmup_steps <= total_steps` and `total_steps > 0`."""
    if total_steps <= 0 or not 0 <= warmup_steps <= total_steps:
        raise ValueError(
            f"WarmupLinearDecay: expected 0 <= warmup_steps <= total_steps and "
            f"total_steps > 0, found warmup_steps={warmup_steps}, total_steps={total_steps}"
        )


def warmup_steps(warmup_fraction: float, total_steps: int) -> int:
    """The warmup steps of a run: `warmup_fraction` of `total_steps`, rounded."""
    if not 0.0 <= warmup_fraction <= 1.0:
        raise ValueError(f"warmup_fraction: expected a value in [0, 1], found {warmup_fraction}")
    return int(round(warmup_fraction * total_steps))


def warmup_linear_decay(step, peak: float, warmup_steps: int, total_steps: int) -> tf.Tensor:
    """The learning rate at `step` (a scalar tensor): the schedule both Keras versions use."""
    step = tf.cast(step, tf.float32)
    warmup = tf.constant(float(warmup_steps))
    total = tf.constant(float(total_steps))
    rising = step / tf.maximum(warmup, 1.0)
    falling = (total - step) / tf.maximum(total - warmup, 1.0)
    fraction = tf.where(step < warmup, rising, falling)
    return peak * tf.clip_by_value(fraction, 0.0, 1.0)


@tf_keras.utils.register_keras_serializable(package="bert_tf_finetune")
class WarmupLinearDecay(tf_keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup from 0 to `peak`, then linear decay to 0 at `total_steps`.

    Args:
      peak: the learning rate at the end of warmup.
      warmup_steps: steps of linear warmup (0 for none).
      total_steps: the step at which the rate reaches 0; it stays 0 after.
    """

    def __init__(self, peak: float, warmup_steps: int, total_steps: int):
        check_schedule(warmup_steps, total_steps)
        self.peak = float(peak)
        self.warmup_steps = int(warmup_steps)
        self.total_steps = int(total_steps)

    def __call__(self, step):
        return warmup_linear_decay(step, self.peak, self.warmup_steps, self.total_steps)

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
    global_clipnorm: float | None = GLOBAL_CLIPNORM,
    mixed_precision: str = "none",
    jit_compile: bool = False,
) -> tf_keras.optimizers.Optimizer:
    """Returns AdamW on a `WarmupLinearDecay` schedule (BERT's fine-tuning recipe).

    Args:
      learning_rate: peak learning rate.
      total_steps: optimizer steps of the whole run.
      warmup_fraction: fraction of `total_steps` spent warming up, in [0, 1].
      weight_decay: decoupled weight decay; LayerNorm and bias are excluded.
      global_clipnorm: clip the aggregated gradient to this global norm.
      mixed_precision: with "mixed_float16" the optimizer is wrapped in a
        dynamic `LossScaleOptimizer`.
      jit_compile: compile the per-variable update with XLA.

    Must be called inside the strategy's scope (it creates variables).
    """
    schedule = WarmupLinearDecay(
        learning_rate, warmup_steps(warmup_fraction, total_steps), total_steps
    )
    optimizer = tf_keras.optimizers.AdamW(
        learning_rate=schedule,
        weight_decay=weight_decay,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-6,
        global_clipnorm=global_clipnorm,
        jit_compile=jit_compile,
    )
    optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY_NAMES))
    if mixed_precision == "mixed_float16":
        optimizer = tf_keras.mixed_precision.LossScaleOptimizer(optimizer)
    return optimizer
