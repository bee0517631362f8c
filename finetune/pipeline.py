"""tf.data input pipelines: strings on the host, packed ids to the replicas.

Both pipelines are built per input pipeline (`tf.distribute.InputContext`), for
`strategy.distribute_datasets_from_function`: each worker takes its share,
batched at the per-replica batch size, and runs the packer (`tokenize` +
`bert_pack_inputs`) in `Dataset.map` on its CPU; the strategy hands the
batches to the replicas. Training shares are cut from the global batches of
one permutation, so the examples of a step do not depend on the number of
workers.

Training order is a pure function of `(seed, epoch)`: epoch `e` shuffles the
examples with a seed derived from both, so a run restarted at step `s` rebuilds
epoch `s // steps_per_epoch` and skips the elements already consumed, before
any preprocessing, instead of checkpointing the iterator (whose state holds
the shuffle buffer and works on fewer strategies).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf
import tf_keras

from bert_tf.finetune.data import NliExample

DatasetFn = Callable[[tf.distribute.InputContext], tf.data.Dataset]


def _columns(examples: Sequence[NliExample], segment_names: Sequence[str]):
    if any(len(e.segments) != len(segment_names) for e in examples):
        found = sorted({len(e.segments) for e in examples})
        raise ValueError(
            f"examples: expected {len(segment_names)} segments ({', '.join(segment_names)}), found {found}"
        )
    texts = {
        name: np.array([e.segments[i] for e in examples], dtype=object)
        for i, name in enumerate(segment_names)
    }
    return texts, np.array([e.label for e in examples], dtype=np.int32)


def epoch_seed(seed: int, epoch: int) -> int:
    """The shuffle seed of one epoch: a fixed function of the run seed and epoch."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def train_dataset_fn(
    examples: Sequence[NliExample],
    packer: tf_keras.Model,
    segment_names: Sequence[str],
    global_batch_size: int,
    *,
    seed: int,
    epoch: int,
    start_step: int = 0,
) -> DatasetFn:
    """The training input of one epoch, from `start_step` (within the epoch) on.

    The dataset function yields `(encoder_inputs, labels)`: a dict of int32
    `[per_replica_batch, seq_length]` and int32 `[per_replica_batch]`;
    `steps_per_epoch(len(examples), global_batch_size) - start_step` batches
    per replica, all full.
    """
    texts, labels = _columns(examples, segment_names)

    def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
        batch = context.get_per_replica_batch_size(global_batch_size)
        steps = len(labels) // global_batch_size - start_step
        ds = tf.data.Dataset.from_tensor_slices((texts, labels))
        # Every input pipeline (worker) draws the same permutation and keeps its
        # replicas' per-replica batches of each global batch: step k trains on
        # the same examples on one process and on any number of workers.
        ds = ds.shuffle(len(labels), seed=epoch_seed(seed, epoch), reshuffle_each_iteration=False)
        ds = ds.skip(start_step * global_batch_size).take(steps * global_batch_size)
        ds = ds.batch(batch, drop_remainder=True)
        ds = ds.shard(context.num_input_pipelines, context.input_pipeline_id)
        ds = ds.map(
            lambda x, y: (packer(x), y), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        )
        return ds.prefetch(tf.data.AUTOTUNE)

    return dataset_fn


def eval_dataset_fn(
    examples: Sequence[NliExample],
    packer: tf_keras.Model,
    segment_names: Sequence[str],
    global_batch_size: int,
) -> tuple[DatasetFn, int]:
    """The evaluation input, in file order, padded to full global batches.

    Padding rows have empty strings and weight 0, so every batch has the same
    shape on every replica (as TPUs need) and padding counts for nothing.

    Returns:
      `(dataset_fn, num_steps)`; the dataset yields `(encoder_inputs, labels,
      weights)` with float32 weights `[per_replica_batch]`.
    """
    texts, labels = _columns(examples, segment_names)
    num_steps = -(-len(labels) // global_batch_size)
    pad = num_steps * global_batch_size - len(labels)
    texts = {k: np.concatenate([v, np.array([""] * pad, dtype=object)]) for k, v in texts.items()}
    weights = np.concatenate([np.ones(len(labels), np.float32), np.zeros(pad, np.float32)])
    labels = np.concatenate([labels, np.zeros(pad, np.int32)])

    def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
        batch = context.get_per_replica_batch_size(global_batch_size)
        ds = tf.data.Dataset.from_tensor_slices((texts, labels, weights))
        ds = ds.shard(context.num_input_pipelines, context.input_pipeline_id)
        ds = ds.batch(batch, drop_remainder=True)
        ds = ds.map(
            lambda x, y, w: (packer(x), y, w),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        return ds.prefetch(tf.data.AUTOTUNE)

    return dataset_fn, num_steps
