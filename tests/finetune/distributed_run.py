"""Trains the same run under the default strategy and MirroredStrategy over two CPUs.

Run as a script (logical devices must be configured before TensorFlow starts
any work, so it needs a fresh process):

    python distributed_run.py EXPORT_DIR TRAIN EVAL OUT_DIR [KERAS]

(KERAS: 2, the default, or 3: `TrainConfig.keras`).

Prints one JSON line: replicas, per-step losses and eval confusion matrices
of both runs, the max abs difference of their final weights, and a short
mirrored run with dropout on, exported and served.
"""

import json
import os
import sys

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from bert_tf.finetune import data, serving, train  # noqa: E402

export_dir, train_path, eval_path, out_dir = sys.argv[1:5]
keras = int(sys.argv[5]) if len(sys.argv) > 5 else 2
train_data, eval_data = data.read_nli(train_path), data.read_nli(eval_path)
# No dropout: the replicas of a mirrored run draw their own random streams,
# so only then is a step the same function of the batch under both strategies.
config = train.TrainConfig(
    seq_length=48,
    batch_size=32,
    steps=30,
    learning_rate=5e-4,
    dropout_rate=0.0,
    encoder_dropout=False,
    seed=5,
    checkpoint_every=1000,
    progress=False,
    keras=keras,
)
runs = {}
for name, strategy in [
    ("default", tf.distribute.get_strategy()),
    ("mirrored", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])),
]:
    result = train.train(
        export_dir,
        train_data,
        os.path.join(out_dir, name),
        config,
        eval_data=eval_data,
        strategy=strategy,
    )
    runs[name] = {
        "replicas": strategy.num_replicas_in_sync,
        "losses": result.losses,
        "confusion": [e["confusion_matrix"] for e in result.evaluations],
        "weights": [v.numpy() for v in result.classifier.trainable_variables],
    }
# With dropout on (each replica draws its own masks) and exported from the mirrored variables.
dropout_config = train.TrainConfig(
    seq_length=48,
    batch_size=32,
    steps=3,
    seed=5,
    checkpoint_every=1000,
    progress=False,
    keras=keras,
)
dropout_run = train.train(
    export_dir, train_data, os.path.join(out_dir, "dropout"), dropout_config, strategy=strategy
)
exported = serving.export_classifier(
    dropout_run.packer,
    dropout_run.classifier,
    dropout_config.labels,
    os.path.join(out_dir, "classifier"),
)
served = tf.saved_model.load(exported).signatures["serving_default"](
    premise=tf.constant(["A dog runs."]), hypothesis=tf.constant(["An animal runs."])
)
runs["mirrored_dropout"] = {
    "losses": dropout_run.losses,
    "served_label": served["label"].numpy()[0].decode(),
}
weight_diff = max(
    float(np.max(np.abs(a - b)))
    for a, b in zip(runs["default"].pop("weights"), runs["mirrored"].pop("weights"))
)
print(json.dumps({**runs, "weight_diff": weight_diff}))
