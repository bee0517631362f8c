"""The files that let a run resume: its settings (`run_config.json`) and its evaluations.

A run started again with the same `output_dir` continues from its last
checkpoint only if its settings equal those recorded by the run that wrote
the checkpoints; `eval_results.json` keeps the evaluations up to that step.
Both are written atomically (`bert_tf.atomic.write_json`).
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from bert_tf import atomic
from bert_tf.finetune.config import RESUME_KEYS, TrainConfig, TrainingError

CHECKPOINT_SUBDIR = "checkpoints"
EVAL_RESULTS = "eval_results.json"
RUN_CONFIG = "run_config.json"


def check_resume_config(output_dir: str, config: TrainConfig, num_examples: int) -> None:
    """Records the run's settings; refuses to resume a run made with other settings."""
    path = os.path.join(output_dir, RUN_CONFIG)
    current = {k: getattr(config, k) for k in RESUME_KEYS}
    current = json.loads(json.dumps({**current, "train_examples": num_examples}))
    if os.path.exists(path) and tf.train.latest_checkpoint(
        os.path.join(output_dir, CHECKPOINT_SUBDIR)
    ):
        with open(path) as f:
            saved = json.load(f)
        saved.setdefault("keras", 2)  # Runs recorded before the Keras 3 path were Keras 2.
        for key, value in current.items():
            if saved.get(key) != value:
                raise TrainingError(
                    f"{path}: cannot resume, the checkpoints were written with {key}={saved.get(key)!r}, "
                    f"this run has {key}={value!r}; use another output_dir"
                )
    atomic.write_json(path, current)


def load_evaluations(path: str, up_to_step: int) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [e for e in json.load(f)["evaluations"] if e["step"] <= up_to_step]


def write_evaluations(path: str, evaluations: list[dict]) -> None:
    """Writes every evaluation of the run so far to `path` (`eval_results.json`)."""
    atomic.write_json(path, {"evaluations": evaluations})
