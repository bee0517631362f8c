"""The distributed step functions of one run: training step, evaluation step, evaluation.

* the loss of a replica is its per-example cross-entropy summed and divided by
  the global batch size, so the replicas' gradients add up (the optimizer
  all-reduces them) to the gradient of the global batch's mean loss, the same
  as on one device;
* with `jit_compile` the forward and backward pass of a replica is one XLA
  cluster, and so is the optimizer's per-variable update.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras

from bert_tf.finetune import metrics, optimization, pipeline
from bert_tf.finetune.config import TrainConfig
from bert_tf.finetune.data import NliData


def _cross_entropy(labels, logits):
    """Per-example softmax cross-entropy of int labels `[batch]` and logits `[batch, classes]`."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(labels, tf.int32), logits=tf.cast(logits, tf.float32)
    )


def _scaled(gradients, factor):
    """`gradients` times `factor`; embedding gradients stay `tf.IndexedSlices`."""
    if isinstance(factor, float) and factor == 1.0:
        return gradients
    return [
        tf.IndexedSlices(g.values * factor, g.indices, g.dense_shape)
        if isinstance(g, tf.IndexedSlices)
        else g * factor
        for g in gradients
    ]


def _deduplicated(gradient):
    """A `tf.IndexedSlices` gradient with each row once (repeated rows summed)."""
    if not isinstance(gradient, tf.IndexedSlices):
        return gradient
    rows, positions = tf.unique(gradient.indices)
    values = tf.math.unsorted_segment_sum(gradient.values, positions, tf.size(rows))
    return tf.IndexedSlices(values, rows, gradient.dense_shape)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run's files (always, but on multi-worker non-chiefs)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    cluster = resolver.cluster_spec().as_dict() if resolver is not None else {}
    if not cluster or resolver.task_type in (None, "chief"):
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in cluster


class Trainer:
    """Owns the distributed step functions of one run."""

    def __init__(self, strategy, classifier, optimizer, config: TrainConfig):
        self.strategy = strategy
        self.classifier = classifier
        self.optimizer = optimizer
        self.config = config
        # Loss scaling (mixed_float16): Keras 2's LossScaleOptimizer scales the
        # loss and unscales the gradients by hand; Keras 3's unscales them in
        # `apply_gradients`.
        self._scale_loss = self._unscale = None
        if isinstance(optimizer, tf_keras.mixed_precision.LossScaleOptimizer):
            self._scale_loss = optimizer.get_scaled_loss
            self._unscale = optimizer.get_unscaled_gradients
        elif hasattr(optimizer, "scale_loss"):  # Keras 3 (`LossScaleOptimizer` or not)
            scaling = hasattr(optimizer, "inner_optimizer")
            self._scale_loss = optimizer.scale_loss if scaling else None
        self.loss_scaling = self._scale_loss is not None
        # Keras 3's optimizer (`keras3_model.build_optimizer`) does not clip: the
        # step sums the replicas' gradients, clips the sum, and hands each replica
        # its share, which the optimizer sums again.
        self._clip_summed = hasattr(optimizer, "scale_loss")
        self._gradients = (
            tf.function(self._replica_gradients, jit_compile=True)
            if config.jit_compile
            else self._replica_gradients
        )

    def _replica_gradients(self, features, labels):
        variables = self.classifier.trainable_variables
        with tf.GradientTape() as tape:
            logits = self.classifier(features, training=True)["logits"]
            per_example = _cross_entropy(labels, logits)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=self.config.batch_size)
            if self.classifier.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(self.classifier.losses))
            scaled = self._scale_loss(loss) if self._scale_loss else loss
        gradients = tape.gradient(scaled, variables)
        if self._unscale:
            gradients = self._unscale(gradients)
        return loss, gradients

    def _replica_step(self, features, labels):
        loss, gradients = self._gradients(features, labels)
        if self._clip_summed:
            context = tf.distribute.get_replica_context()
            gradients = context.all_reduce(tf.distribute.ReduceOp.SUM, gradients)
            # The sum of the replicas' embedding gradients repeats the rows both
            # replicas touched; their norm is that of the summed rows.
            gradients = [_deduplicated(g) for g in gradients]
            # A loss-scaled gradient is clipped unscaled; the optimizer unscales it.
            scale = self.optimizer.dynamic_scale if self.loss_scaling else 1.0
            gradients = _scaled(gradients, 1.0 / scale)
            gradients, _ = tf.clip_by_global_norm(gradients, optimization.GLOBAL_CLIPNORM)
            gradients = _scaled(gradients, scale / context.num_replicas_in_sync)
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
            labels,
            predictions,
            num_classes=len(self.config.labels),
            weights=weights,
            dtype=tf.float32,
        )
        per_example = _cross_entropy(labels, logits)
        return confusion, tf.reduce_sum(per_example * weights)

    @tf.function
    def eval_step(self, iterator):
        """Confusion matrix and summed loss of the next global eval batch."""
        features, labels, weights = next(iterator)
        confusion, loss = self.strategy.run(self._replica_eval, args=(features, labels, weights))
        reduce = lambda v: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)  # noqa: E731
        return reduce(confusion), reduce(loss)


def evaluate(trainer: Trainer, packer: tf_keras.Model, eval_data: NliData) -> dict:
    """Accuracy, per-class precision/recall and mean loss of the classifier on `eval_data`."""
    config = trainer.config
    dataset_fn, num_steps = pipeline.eval_dataset_fn(
        eval_data.examples, packer, config.segment_names, config.batch_size
    )
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
