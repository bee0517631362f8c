"""The fine-tuning loop: any strategy, checkpoints with exact resume, evaluation.

One optimizer step per global batch, a custom loop over `strategy.run`:

* the loss of a replica is its per-example cross-entropy summed and divided by
  the global batch size, so the replicas' gradients add up (the optimizer
  all-reduces them) to the gradient of the global batch's mean loss, the same
  as on one device;
* with `jit_compile` the forward and backward pass of a replica is one XLA
  cluster, and so is the optimizer's per-variable update;
* `tf.train.CheckpointManager` saves the classifier (encoder included), the
  optimizer (step counter, Adam moments, loss scale) and the head's dropout
  generator every `checkpoint_every` steps and at the end. A run started with
  the same `output_dir` restores the latest checkpoint and continues from its
  step; the data order is a function of (seed, epoch) and the consumed part
  of the epoch is skipped (see `finetune.pipeline`), so the resumed run sees
  the same batches as an uninterrupted one;
* after each epoch (and at the end of a `steps` run) the eval set's accuracy
  and per-class precision/recall go to the log and to
  `output_dir/eval_results.json`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile

import numpy as np
import tensorflow as tf
import tf_keras
from absl import logging

from bert_tf.errors import BertTfError
from finetune import metrics, model, optimization, pipeline
from finetune.data import DEFAULT_LABELS, NliData

MIXED_PRECISION = ("none", "mixed_float16", "mixed_bfloat16")
CHECKPOINT_SUBDIR = "checkpoints"
EVAL_RESULTS = "eval_results.json"
RUN_CONFIG = "run_config.json"


class TrainingError(BertTfError, ValueError):
    """Settings or data that cannot make a training run."""


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
    segment_names: tuple[str, ...] = model.DEFAULT_SEGMENTS
    labels: tuple[str, ...] = DEFAULT_LABELS
    progress: bool = True

    def __post_init__(self):
        positive = ("seq_length", "batch_size", "checkpoint_every", "max_checkpoints")
        for name in positive:
            if getattr(self, name) < 1:
                raise TrainingError(f"{name}: expected a positive integer, found {getattr(self, name)}")
        if (self.epochs is None) == (self.steps is None):
            raise TrainingError(f"epochs/steps: expected exactly one of them, found epochs={self.epochs}, steps={self.steps}")
        for name in ("epochs", "steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise TrainingError(f"{name}: expected a positive integer, found {value}")
        if self.mixed_precision not in MIXED_PRECISION:
            raise TrainingError(f"mixed_precision: expected one of {', '.join(MIXED_PRECISION)}, found {self.mixed_precision!r}")
        if not 0.0 <= self.warmup_fraction <= 1.0:
            raise TrainingError(f"warmup_fraction: expected a value in [0, 1], found {self.warmup_fraction}")
        if self.learning_rate <= 0:
            raise TrainingError(f"learning_rate: expected a positive value, found {self.learning_rate}")
        if not 0.0 <= self.dropout_rate < 1.0:
            raise TrainingError(f"dropout_rate: expected a value in [0, 1), found {self.dropout_rate}")

    def total_steps(self, num_examples: int) -> int:
        return self.steps if self.steps is not None else self.epochs * pipeline.steps_per_epoch(num_examples, self.batch_size)


# The settings a resumed run must share with the run that wrote the checkpoints.
_RESUME_KEYS = (
    "seq_length", "batch_size", "epochs", "steps", "learning_rate", "warmup_fraction", "weight_decay",
    "dropout_rate", "encoder_dropout", "mixed_precision", "seed", "segment_names", "labels",
)


@dataclasses.dataclass
class TrainResult:
    """What `train` leaves in memory.

    Attributes:
      classifier: the trained classifier (encoder inputs -> logits, probabilities).
      packer: the string -> encoder inputs model of the export.
      step: the optimizer step reached.
      resumed_from: the step restored from a checkpoint (0 for a fresh run).
      losses: the training loss of each step this call ran, in order.
      evaluations: every evaluation of the run, as in `eval_results.json`.
      config: the settings used.
    """

    classifier: tf_keras.Model
    packer: tf_keras.Model
    step: int
    resumed_from: int
    losses: list[float]
    evaluations: list[dict]
    config: TrainConfig


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run's files (always, but on multi-worker non-chiefs)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    cluster = resolver.cluster_spec().as_dict() if resolver is not None else {}
    if not cluster or resolver.task_type in (None, "chief"):
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in cluster


def _write_json(path: str, value) -> None:
    """Writes JSON atomically (temp file in the same folder, then rename)."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(value, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def _check_resume_config(output_dir: str, config: TrainConfig, num_examples: int) -> None:
    """Records the run's settings; refuses to resume a run made with other settings."""
    path = os.path.join(output_dir, RUN_CONFIG)
    current = {k: getattr(config, k) for k in _RESUME_KEYS}
    current = json.loads(json.dumps({**current, "train_examples": num_examples}))
    if os.path.exists(path) and tf.train.latest_checkpoint(os.path.join(output_dir, CHECKPOINT_SUBDIR)):
        with open(path) as f:
            saved = json.load(f)
        for key, value in current.items():
            if saved.get(key) != value:
                raise TrainingError(
                    f"{path}: cannot resume, the checkpoints were written with {key}={saved.get(key)!r}, "
                    f"this run has {key}={value!r}; use another output_dir"
                )
    _write_json(path, current)


class _Trainer:
    """Owns the distributed step functions of one run."""

    def __init__(self, strategy, classifier, optimizer, config: TrainConfig):
        self.strategy = strategy
        self.classifier = classifier
        self.optimizer = optimizer
        self.config = config
        self.loss_scaling = isinstance(optimizer, tf_keras.mixed_precision.LossScaleOptimizer)
        self._gradients = tf.function(self._replica_gradients, jit_compile=True) if config.jit_compile else self._replica_gradients

    def _replica_gradients(self, features, labels):
        variables = self.classifier.trainable_variables
        with tf.GradientTape() as tape:
            logits = self.classifier(features, training=True)["logits"]
            per_example = tf_keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=self.config.batch_size)
            if self.classifier.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(self.classifier.losses))
            scaled = self.optimizer.get_scaled_loss(loss) if self.loss_scaling else loss
        gradients = tape.gradient(scaled, variables)
        if self.loss_scaling:
            gradients = self.optimizer.get_unscaled_gradients(gradients)
        return loss, gradients

    def _replica_step(self, features, labels):
        loss, gradients = self._gradients(features, labels)
        self.optimizer.apply_gradients(zip(gradients, self.classifier.trainable_variables))
        return loss

    @tf.function
    def train_step(self, iterator):
        """One optimizer step on the next global batch; returns its mean loss."""
        features, labels = next(iterator)
        per_replica = self.strategy.run(self._replica_step, args=(features, labels))
        return self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    def _replica_eval(self, features, labels, weights):
        logits = self.classifier(features, training=False)["logits"]
        predictions = tf.argmax(logits, axis=-1, output_type=tf.int32)
        confusion = tf.math.confusion_matrix(
            labels, predictions, num_classes=len(self.config.labels), weights=weights, dtype=tf.float32
        )
        per_example = tf_keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        return confusion, tf.reduce_sum(per_example * weights)

    @tf.function
    def eval_step(self, iterator):
        """Confusion matrix and summed loss of the next global eval batch."""
        features, labels, weights = next(iterator)
        confusion, loss = self.strategy.run(self._replica_eval, args=(features, labels, weights))
        reduce = lambda v: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)  # noqa: E731
        return reduce(confusion), reduce(loss)


def evaluate(trainer: _Trainer, packer: tf_keras.Model, eval_data: NliData) -> dict:
    """Accuracy, per-class precision/recall and mean loss of the classifier on `eval_data`."""
    config = trainer.config
    dataset_fn, num_steps = pipeline.eval_dataset_fn(eval_data.examples, packer, config.segment_names, config.batch_size)
    iterator = iter(trainer.strategy.distribute_datasets_from_function(dataset_fn))
    confusion = np.zeros((len(config.labels),) * 2)
    loss = 0.0
    for _ in range(num_steps):
        batch_confusion, batch_loss = trainer.eval_step(iterator)
        confusion += batch_confusion.numpy()
        loss += float(batch_loss)
    result = metrics.classification_metrics(confusion, config.labels)
    result["loss"] = loss / max(result["examples"], 1)
    return result


def _check_data(data: NliData, config: TrainConfig, role: str) -> None:
    if data.labels != tuple(config.labels):
        raise TrainingError(f"{data.path}: read with labels {list(data.labels)}, the run uses {list(config.labels)}")
    if data.num_segments != len(config.segment_names):
        raise TrainingError(
            f"{data.path}: {role} examples have {data.num_segments} segments, "
            f"the run expects {len(config.segment_names)} ({', '.join(config.segment_names)})"
        )


def train(
    export_dir: str | os.PathLike,
    train_data: NliData,
    output_dir: str | os.PathLike,
    config: TrainConfig,
    *,
    eval_data: NliData | None = None,
    strategy: tf.distribute.Strategy | None = None,
) -> TrainResult:
    """Fine-tunes a classifier on an exported pair; resumes from `output_dir`'s checkpoints.

    Args:
      export_dir: an export with `encoder/` and `preprocess/` (INTERFACE.md).
      train_data: the training examples (`finetune.data.read_nli`).
      output_dir: checkpoints, `eval_results.json` and `run_config.json` go here.
        If it holds checkpoints of the same run, training continues from the
        latest.
      config: the run's settings.
      eval_data: evaluated after every epoch and at the end, if given.
      strategy: defaults to the current (default) strategy.

    Seeds Python's, NumPy's and TensorFlow's global generators with
    `config.seed` (`tf_keras.utils.set_random_seed`); the global Keras
    mixed-precision policy is restored on return.

    Returns:
      The trained classifier and the run's losses and evaluations.

    Raises:
      TrainingError: inconsistent settings or data, or a resume with settings
        that differ from the checkpoints'.
      ExportDirError: `export_dir` is not an export.
    """
    export_dir, output_dir = os.fspath(export_dir), os.fspath(output_dir)
    strategy = strategy or tf.distribute.get_strategy()
    _check_data(train_data, config, "training")
    if eval_data is not None:
        _check_data(eval_data, config, "evaluation")
    if config.batch_size % strategy.num_replicas_in_sync:
        raise TrainingError(
            f"batch_size: expected a multiple of the {strategy.num_replicas_in_sync} replicas, found {config.batch_size}"
        )
    num_examples = len(train_data.examples)
    steps_per_epoch = pipeline.steps_per_epoch(num_examples, config.batch_size)
    if steps_per_epoch == 0:
        raise TrainingError(f"{train_data.path}: {num_examples} examples are fewer than one batch of {config.batch_size}")
    total_steps = config.total_steps(num_examples)
    pair = model.ExportedPair.from_dir(export_dir)
    chief = is_chief(strategy)
    os.makedirs(output_dir, exist_ok=True)
    if chief:
        _check_resume_config(output_dir, config, num_examples)

    previous_policy = tf_keras.mixed_precision.global_policy()
    tf_keras.utils.set_random_seed(config.seed)
    try:
        packer = model.build_packer(pair.preprocess_dir, config.seq_length, config.segment_names)
        if config.mixed_precision != "none":
            tf_keras.mixed_precision.set_global_policy(config.mixed_precision)
        with strategy.scope():
            classifier = model.build_classifier(
                pair.encoder_dir,
                len(config.labels),
                dropout_rate=config.dropout_rate,
                encoder_dropout=config.encoder_dropout,
                seed=config.seed,
            )
            optimizer = optimization.build_optimizer(
                config.learning_rate,
                total_steps,
                config.warmup_fraction,
                weight_decay=config.weight_decay,
                mixed_precision=config.mixed_precision,
                jit_compile=config.jit_compile,
            )
            # Create the slots now, so that a restore fills them instead of deferring.
            getattr(optimizer, "inner_optimizer", optimizer).build(classifier.trainable_variables)
            checkpoint = tf.train.Checkpoint(model=classifier, optimizer=optimizer)
        checkpoint_dir = os.path.join(output_dir, CHECKPOINT_SUBDIR)
        latest = tf.train.latest_checkpoint(checkpoint_dir)
        if latest:
            checkpoint.restore(latest).assert_existing_objects_matched()
            logging.info("Resumed from %s (step %d).", latest, int(optimizer.iterations.numpy()))
        if not chief:
            # Every worker takes part in saving; only the chief's copy is kept.
            checkpoint_dir = os.path.join(output_dir, f".worker_{strategy.cluster_resolver.task_id}_checkpoints")
        manager = tf.train.CheckpointManager(checkpoint, checkpoint_dir, max_to_keep=config.max_checkpoints)
        trainer = _Trainer(strategy, classifier, optimizer, config)
        output = output_dir if chief else None
        return _run(trainer, packer, manager, train_data, eval_data, output, total_steps, steps_per_epoch)
    finally:
        tf_keras.mixed_precision.set_global_policy(previous_policy)


def _load_evaluations(path: str, up_to_step: int) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [e for e in json.load(f)["evaluations"] if e["step"] <= up_to_step]


def _run(trainer: _Trainer, packer, manager, train_data, eval_data, output_dir: str | None, total_steps, steps_per_epoch) -> TrainResult:
    """The step loop; `output_dir` is None on workers that write no results."""
    config, strategy, optimizer = trainer.config, trainer.strategy, trainer.optimizer
    step = resumed_from = int(optimizer.iterations.numpy())
    eval_path = os.path.join(output_dir, EVAL_RESULTS) if output_dir else None
    evaluations = _load_evaluations(eval_path, step) if eval_path else []
    losses: list[float] = []
    logging.info(
        "Fine-tuning on %d examples (%d skipped without gold label): %d steps of %d (%d per epoch) "
        "on %d replica(s), starting at step %d.",
        len(train_data.examples), train_data.skipped, total_steps, config.batch_size, steps_per_epoch,
        strategy.num_replicas_in_sync, step,
    )
    while step < total_steps:
        epoch, offset = divmod(step, steps_per_epoch)
        epoch_steps = min(steps_per_epoch, total_steps - epoch * steps_per_epoch)
        dataset_fn = pipeline.train_dataset_fn(
            train_data.examples, packer, config.segment_names, config.batch_size,
            seed=config.seed, epoch=epoch, start_step=offset,
        )
        iterator = iter(strategy.distribute_datasets_from_function(dataset_fn))
        bar = tf_keras.utils.Progbar(epoch_steps, verbose=1 if config.progress else 0, stateful_metrics=["lr"])
        logging.info("Epoch %d, steps %d-%d.", epoch + 1, step + 1, epoch * steps_per_epoch + epoch_steps)
        for in_epoch in range(offset, epoch_steps):
            loss = float(trainer.train_step(iterator))
            step += 1
            losses.append(loss)
            if not np.isfinite(loss) and not trainer.loss_scaling:
                raise TrainingError(f"loss: expected a finite value, found {loss} at step {step}")
            learning_rate = float(tf_keras.backend.get_value(optimizer.learning_rate))
            bar.update(in_epoch + 1, values=[("loss", loss), ("lr", learning_rate)])
            if in_epoch + 1 == epoch_steps and eval_data is not None:
                result = {"epoch": epoch + 1, "step": step, **evaluate(trainer, packer, eval_data)}
                evaluations = [e for e in evaluations if e["step"] != step] + [result]
                if eval_path:
                    _write_json(eval_path, {"evaluations": evaluations})
                logging.info(
                    "Eval after epoch %d (step %d): accuracy %.4f, loss %.4f, %s.",
                    epoch + 1, step, result["accuracy"], result["loss"],
                    ", ".join(f"{k} P {v['precision']:.3f} R {v['recall']:.3f}" for k, v in result["per_class"].items()),
                )
            if step % config.checkpoint_every == 0 or step == total_steps:
                path = manager.save(checkpoint_number=step)
                logging.info("Saved checkpoint %s.", path)
    return TrainResult(
        classifier=trainer.classifier,
        packer=packer,
        step=step,
        resumed_from=resumed_from,
        losses=losses,
        evaluations=evaluations,
        config=config,
    )
