"""Fits the issue's Keras 3 model on one device and under MirroredStrategy over two CPUs.

Run as a script (logical devices must be configured before TensorFlow starts
any work, so it needs a fresh process):

    python distributed_run.py EXPORT_DIR

Prints one JSON line: the replicas and per-step losses of both runs, and the
max abs difference of their fine-tuned encoder weights. The encoder runs with
`dropout=False`: the replicas of a mirrored run draw their own
random streams, so only then is a step the same function of the batch on both.
"""

import json
import os
import sys

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
from keras3_helpers import pair_task  # noqa: E402

from bert_tf.interface import ENCODER_INPUTS  # noqa: E402
from bert_tf.keras3 import EncoderLayer, PreprocessLayer  # noqa: E402

export_dir = sys.argv[1]
premises, hypotheses, labels = pair_task(64, seed=3)
# Strings stay on the host: Keras 3.15 fails to fit a model with string
# inputs under a strategy (it all-reduces the first batch to build the
# model), so the preprocessing runs in tf.data and the replicas get ids.
preprocess = PreprocessLayer(os.path.join(export_dir, "preprocess"), seq_length=24)
runs = {}
for name, strategy in [
    ("default", tf.distribute.get_strategy()),
    ("mirrored", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])),
]:
    with strategy.scope():
        encoder = EncoderLayer(os.path.join(export_dir, "encoder"), dropout=False)
        inputs = {k: keras.Input(shape=(None,), dtype="int32", name=k) for k in ENCODER_INPUTS}
        pooled = encoder(inputs)["pooled_output"]
        logits = keras.layers.Dense(2, kernel_initializer=keras.initializers.GlorotUniform(5))(
            pooled
        )
        model = keras.Model(inputs, logits)
        model.compile(
            optimizer=keras.optimizers.AdamW(1e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            # XLA compiles each strategy's step for tens of seconds on a small
            # CPU; the comparison is about the distribution, not the compiler.
            jit_compile=False,
        )
    dataset = (
        tf.data.Dataset.from_tensor_slices(((premises, hypotheses), labels))
        .batch(16)
        .map(lambda x, y: (preprocess(list(x)), y))
    )
    losses = []
    callback = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs, losses=losses: losses.append(float(logs["loss"]))
    )
    model.fit(dataset, epochs=2, verbose=0, callbacks=[callback])
    runs[name] = {
        "replicas": strategy.num_replicas_in_sync,
        "losses": losses,
        "distributed": type(encoder.restored.variables[0]).__name__,
        "weights": [np.asarray(v.numpy()) for v in encoder.restored.variables],
    }
weight_diff = max(
    float(np.abs(a - b).max())
    for a, b in zip(runs["default"].pop("weights"), runs["mirrored"].pop("weights"))
)
print(json.dumps({**runs, "weight_diff": weight_diff}))
