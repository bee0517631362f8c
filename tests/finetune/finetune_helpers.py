"""Helpers of the fine-tuning tests: CLI runs, checkpoint values, export checks."""

import os
import pathlib
import subprocess
import sys

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[2]


def cli_command(*args: str) -> list[str]:
    return [str(pathlib.Path(sys.executable).parent / "bert-tf-finetune"), "--noprogress", *args]


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Runs `python -m finetune ARGS` from the repo root; returns the finished process."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        cli_command(*args), cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )


def checkpoint_values(prefix) -> dict[str, np.ndarray]:
    """Every saved value of a tf.train checkpoint (model, optimizer, RNG state)."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(prefix))
    return {
        name: reader.get_tensor(name)
        for name in reader.get_variable_to_shape_map()
        if name.endswith("VARIABLE_VALUE") and not name.startswith("save_counter")
    }


def assert_export_matches_model(result, eval_data, export_path, labels):
    """The exported SavedModel gives the in-memory classifier's probabilities and labels on `eval_data`."""
    import tensorflow as tf

    names = result.config.segment_names
    columns = {
        name: tf.constant([e.segments[i] for e in eval_data.examples])
        for i, name in enumerate(names)
    }
    # Either Keras: the packer maps the segments dict, the classifier the encoder inputs.
    expected = result.classifier(result.packer(columns), training=False)["probabilities"]
    expected = np.asarray(expected)

    serve = tf.saved_model.load(str(export_path)).signatures["serving_default"]
    assert set(serve.structured_input_signature[1]) == set(names)
    assert set(serve.structured_outputs) == {"probabilities", "label"}
    outputs = serve(**columns)
    np.testing.assert_allclose(outputs["probabilities"].numpy(), expected, atol=1e-5)
    predicted = [labels[i] for i in expected.argmax(axis=-1)]
    assert [s.decode() for s in outputs["label"].numpy()] == predicted
    return expected
