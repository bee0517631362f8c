"""Loads a checkpoint under MirroredStrategy over two CPUs, big tensors in row blocks.

Run as a script (logical devices must be configured before TensorFlow starts
any work, so it needs a fresh process):

    python row_blocks_run.py CHECKPOINT_DIR

Prints one JSON line: the number of replicas, and for every variable the
largest difference between any replica's value and a plain whole-tensor load.
"""

import json
import os
import sys

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from bert_tf import BertConfig, build_encoder, load_checkpoint  # noqa: E402
from bert_tf.checkpoints import tables  # noqa: E402

folder = sys.argv[1]
config = BertConfig.from_file(os.path.join(folder, "config.json"))
whole = build_encoder(config)
load_checkpoint(folder, whole)
tables.CHUNK_BYTES = 1024  # Every embedding table in blocks of a few rows.
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    mirrored = build_encoder(config)
load_checkpoint(folder, mirrored)
diffs = {}
for want, got in zip(whole.weights, mirrored.weights):
    replicas = strategy.experimental_local_results(got)
    diffs[want.name] = max(float(np.max(np.abs(r.numpy() - want.numpy()))) for r in replicas)
print(json.dumps({"replicas": strategy.num_replicas_in_sync, "diffs": diffs}))
