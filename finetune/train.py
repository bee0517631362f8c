"""The fine-tuning loop: any strategy, checkpoints with exact resume, evaluation.

One optimizer step per global batch, a custom loop over `strategy.run`
(`bert_tf.finetune.trainer`):

* `tf.train.CheckpointManager` saves the classifier (encoder included), the
  optimizer (step counter, Adam moments, loss scale) and the head's dropout
  generator every `checkpoint_every` steps and at the end. A run started with
  the same `output_dir` restores the latest checkpoint and continues from its
  step (`bert_tf.finetune.resume`); the data order is a function of
  (seed, epoch) and the consumed part of the epoch is skipped (see
  `bert_tf.finetune.pipeline`), so the resumed run sees the same batches as an
  uninterrupted one;
* after each epoch (and at the end of a `steps` run) the eval set's accuracy
  and per-class precision/recall go to the log and to
  `output_dir/eval_results.json`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
from collections.abc import Iterator

import numpy as np
import tensorflow as tf
import tf_keras
from absl import logging

from bert_tf import interface
from bert_tf.finetune import model, optimization, pipeline, resume
from bert_tf.finetune.config import TrainConfig, TrainingError, steps_per_epoch
from bert_tf.finetune.data import NliData
from bert_tf.finetune.trainer import Trainer, evaluate, is_chief

__all__ = ["TrainConfig", "TrainResult", "TrainingError", "is_chief", "train"]


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


def _check_data(data: NliData, config: TrainConfig, role: str) -> None:
    if data.labels != tuple(config.labels):
        raise TrainingError(
            f"{data.path}: read with labels {list(data.labels)}, the run uses {list(config.labels)}"
        )
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
      export_dir: an export with `encoder/` and `preprocess/` (docs/interface.md).
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
      ExportDirError: `export_dir` is not an export (`bert_tf.interface`).
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
    epoch_steps = steps_per_epoch(num_examples, config.batch_size)
    if epoch_steps == 0:
        raise TrainingError(
            f"{train_data.path}: {num_examples} examples are fewer than one batch of {config.batch_size}"
        )
    total_steps = config.total_steps(num_examples)
    layout = interface.check_export_dir(export_dir)
    chief = is_chief(strategy)
    os.makedirs(output_dir, exist_ok=True)
    if chief:
        resume.check_resume_config(output_dir, config, num_examples)

    tf_keras.utils.set_random_seed(config.seed)
    with _policy(config):
        packer, build_classifier, build_optimizer = _keras_side(config, layout)
        with strategy.scope():
            classifier = build_classifier(
                os.fspath(layout.encoder_dir),
                len(config.labels),
                dropout_rate=config.dropout_rate,
                encoder_dropout=config.encoder_dropout,
                seed=config.seed,
            )
            optimizer = build_optimizer(
                config.learning_rate,
                total_steps,
                config.warmup_fraction,
                weight_decay=config.weight_decay,
                mixed_precision=config.mixed_precision,
            )
            # Create the slots now, so that a restore fills them instead of deferring.
            getattr(optimizer, "inner_optimizer", optimizer).build(classifier.trainable_variables)
            checkpoint = tf.train.Checkpoint(model=classifier, optimizer=optimizer)
        checkpoint_dir = os.path.join(output_dir, resume.CHECKPOINT_SUBDIR)
        latest = tf.train.latest_checkpoint(checkpoint_dir)
        if latest:
            checkpoint.restore(latest).assert_existing_objects_matched()
            logging.info("Resumed from %s (step %d).", latest, int(optimizer.iterations.numpy()))
        if not chief:
            # Every worker takes part in saving; only the chief's copy is kept.
            checkpoint_dir = os.path.join(
                output_dir, f".worker_{strategy.cluster_resolver.task_id}_checkpoints"
            )
        manager = tf.train.CheckpointManager(
            checkpoint, checkpoint_dir, max_to_keep=config.max_checkpoints
        )
        trainer = Trainer(strategy, classifier, optimizer, config)
        output = output_dir if chief else None
        result = _run(
            trainer, packer, manager, train_data, eval_data, output, total_steps, epoch_steps
        )
        if not chief:
            # A finished worker's copy is never read: resuming restores the chief's.
            tf.io.gfile.rmtree(checkpoint_dir)
        return result


@contextlib.contextmanager
def _policy(config: TrainConfig) -> Iterator[None]:
    """The run's mixed-precision policy, in the Keras the run builds with; restored after."""
    policy = "float32" if config.mixed_precision == "none" else config.mixed_precision
    if config.keras == 3:
        from bert_tf.finetune import keras3_model

        previous = keras3_model.set_policy(policy)
        restore = keras3_model.set_policy
    else:
        previous = tf_keras.mixed_precision.global_policy()
        restore = tf_keras.mixed_precision.set_global_policy
        tf_keras.mixed_precision.set_global_policy(policy)
    try:
        yield
    finally:
        restore(previous)


def _keras_side(config: TrainConfig, layout: interface.ExportLayout):
    """The packer (built now) and the classifier and optimizer builders of `config.keras`.

    Both sides take the same arguments and give the same interfaces
    (`finetune.model` / `finetune.optimization` for Keras 2,
    `finetune.keras3_model` for Keras 3); only Keras 3 runs import Keras 3.
    """
    preprocess_dir = os.fspath(layout.preprocess_dir)
    if config.keras == 3:
        from bert_tf.finetune import keras3_model

        packer = keras3_model.SegmentPacker(preprocess_dir, config.seq_length, config.segment_names)
        return packer, keras3_model.build_classifier, keras3_model.build_optimizer
    packer = model.build_packer(preprocess_dir, config.seq_length, config.segment_names)
    build_optimizer = functools.partial(
        optimization.build_optimizer, jit_compile=config.jit_compile
    )
    return packer, model.build_classifier, build_optimizer


def _run(
    trainer: Trainer,
    packer,
    manager,
    train_data,
    eval_data,
    output_dir: str | None,
    total_steps,
    steps_per_epoch,
) -> TrainResult:
    """The step loop; `output_dir` is None on workers that write no results."""
    config, strategy, optimizer = trainer.config, trainer.strategy, trainer.optimizer
    step = resumed_from = int(optimizer.iterations.numpy())
    eval_path = os.path.join(output_dir, resume.EVAL_RESULTS) if output_dir else None
    evaluations = resume.load_evaluations(eval_path, step) if eval_path else []
    losses: list[float] = []
    logging.info(
        "Fine-tuning on %d examples (%d skipped without gold label): %d steps of %d (%d per epoch) "
        "on %d replica(s), starting at step %d.",
        len(train_data.examples),
        train_data.skipped,
        total_steps,
        config.batch_size,
        steps_per_epoch,
        strategy.num_replicas_in_sync,
        step,
    )
    while step < total_steps:
        epoch, offset = divmod(step, steps_per_epoch)
        epoch_steps = min(steps_per_epoch, total_steps - epoch * steps_per_epoch)
        dataset_fn = pipeline.train_dataset_fn(
            train_data.examples,
            packer,
            config.segment_names,
            config.batch_size,
            seed=config.seed,
            epoch=epoch,
            start_step=offset,
        )
        iterator = iter(strategy.distribute_datasets_from_function(dataset_fn))
        bar = tf_keras.utils.Progbar(
            epoch_steps, verbose=1 if config.progress else 0, stateful_metrics=["lr"]
        )
        logging.info(
            "Epoch %d, steps %d-%d.", epoch + 1, step + 1, epoch * steps_per_epoch + epoch_steps
        )
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
                    resume.write_evaluations(eval_path, evaluations)
                logging.info(
                    "Eval after epoch %d (step %d): accuracy %.4f, loss %.4f, %s.",
                    epoch + 1,
                    step,
                    result["accuracy"],
                    result["loss"],
                    ", ".join(
                        f"{k} P {v['precision']:.3f} R {v['recall']:.3f}"
                        for k, v in result["per_class"].items()
                    ),
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
