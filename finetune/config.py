"""The settings of one fine-tuning run, validated: the one table `train` and the CLI share.

Imports nothing heavy, so that `bert-tf-finetune --help` answers at once.

>>> TrainConfig(epochs=1).total_steps(num_examples=100)  # 100 // 32 full batches
3
"""

from __future__ import annotations

import dataclasses

from bert_tf.errors import BertTfError

MIXED_PRECISION = ("none", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
KERAS_VERSIONS = (2, 3)
DEFAULT_LABELS: tuple[str, ...] = ("entailment", "neutral", "contradiction")
DEFAULT_SEGMENTS: tuple[str, ...] = ("premise", "hypothesis")
# Epochs when neither `epochs` nor `steps` is given (the CLI's default).
DEFAULT_EPOCHS = 3


class TrainingError(BertTfError, ValueError):
    """Settings or data that cannot make a training run."""


def steps_per_epoch(num_examples: int, global_batch_size: int) -> int:
    """Full global batches in one pass (the remainder is dropped, reshuffled next epoch)."""
    return num_examples // global_batch_size


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Settings of one fine-tuning run.

    Attributes:
      seq_length: packed sequence length.
      batch_size: global batch size (over all replicas).
      epochs: passes over the training set; give this or `steps`.
      steps: optimizer steps; give this or `epochs`.
      learning_rate: peak learning rate of AdamW.
      warmup_fraction: fraction of the steps with linear warmup.
      weight_decay: AdamW's decoupled weight decay (not on LayerNorm or bias).
      dropout_rate: dropout on the pooled output.
      encoder_dropout: run the encoder's own dropout while training.
      mixed_precision: "none", "mixed_float16" or "mixed_bfloat16".
      jit_compile: compile each replica's forward and backward pass (and the
        optimizer's update) with XLA. Same results; but on TF 2.21 XLA takes
        the loaded encoder's variables as compile-time constants and
        recompiles after every update, which makes it slow.
      seed: seeds weights of the head, dropout and the data order.
      checkpoint_every: save a checkpoint every this many steps.
      max_checkpoints: checkpoints kept on disk.
      segment_names: names of the text segments, in packing order.
      labels: class names; the classifier's outputs follow this order.
      progress: show a progress bar.
      keras: 2 builds the classifier on `hub.KerasLayer` (tf_keras), 3 on the
        Keras 3 layers of `bert_tf.keras3`; same recipe, loop and outputs.
    """

    seq_length: int = 128
    batch_size: int = 32
    epochs: int | None = None
    steps: int | None = None
    learning_rate: float = 2e-5
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    dropout_rate: float = 0.1
    encoder_dropout: bool = True
    mixed_precision: str = "none"
    jit_compile: bool = False
    seed: int = 0
    checkpoint_every: int = 500
    max_checkpoints: int = 3
    segment_names: tuple[str, ...] = DEFAULT_SEGMENTS
    labels: tuple[str, ...] = DEFAULT_LABELS
    progress: bool = True
    keras: int = 2

    def __post_init__(self):
        positive = ("seq_length", "batch_size", "checkpoint_every", "max_checkpoints")
        for name in positive:
            if getattr(self, name) < 1:
                raise TrainingError(
                    f"{name}: expected a positive integer, found {getattr(self, name)}"
                )
        if (self.epochs is None) == (self.steps is None):
            raise TrainingError(
                f"epochs/steps: expected exactly one of them, found epochs={self.epochs}, steps={self.steps}"
            )
        for name in ("epochs", "steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise TrainingError(f"{name}: expected a positive integer, found {value}")
        if self.keras not in KERAS_VERSIONS:
            raise TrainingError(f"keras: expected 2 or 3, found {self.keras!r}")
        if self.mixed_precision not in MIXED_PRECISION:
            raise TrainingError(
                f"mixed_precision: expected one of {', '.join(MIXED_PRECISION)}, found {self.mixed_precision!r}"
            )
        if not 0.0 <= self.warmup_fraction <= 1.0:
            raise TrainingError(
                f"warmup_fraction: expected a value in [0, 1], found {self.warmup_fraction}"
            )
        if self.learning_rate <= 0:
            raise TrainingError(
                f"learning_rate: expected a positive value, found {self.learning_rate}"
            )
        if not 0.0 <= self.dropout_rate < 1.0:
            raise TrainingError(
                f"dropout_rate: expected a value in [0, 1), found {self.dropout_rate}"
            )

    def total_steps(self, num_examples: int) -> int:
        return (
            self.steps
            if self.steps is not None
            else self.epochs * steps_per_epoch(num_examples, self.batch_size)
        )


# The settings a resumed run must share with the run that wrote the checkpoints.
RESUME_KEYS = (
    "seq_length",
    "batch_size",
    "epochs",
    "steps",
    "learning_rate",
    "warmup_fraction",
    "weight_decay",
    "dropout_rate",
    "encoder_dropout",
    "mixed_precision",
    "seed",
    "segment_names",
    "labels",
    "keras",
)
