"""Helpers shared by the export tests: CLI runners and parity checks."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import checkpoint_factory
import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[2]
# The console scripts `pip install` put beside this interpreter (`.venv/bin/`).
BIN = pathlib.Path(sys.executable).parent
# Long enough for the verification pairs, within tiny_config's 64 positions.
SEQ_LENGTH = 32


def run_cli(module, *args: str) -> int:
    """Runs a CLI module's `COMMAND` in this process, as its console script does.

    Returns:
        The exit status the console script would exit with.
    """
    return module.COMMAND([module.COMMAND.name, *args])


def run_script(script: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Runs an installed console script (`bert-tf-export`, ...) as a user does."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP_")}
    return subprocess.run(
        [BIN / script, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )


def assert_close(found, expected, atol: float = 1e-4, what: str = "") -> None:
    """Max abs difference at most `atol` (float32 parity bound)."""
    found, expected = np.asarray(found), np.asarray(expected)
    assert found.shape == expected.shape, f"{what}: shape {found.shape} != {expected.shape}"
    diff = float(np.max(np.abs(found - expected)))
    assert diff <= atol, f"{what}: max abs diff {diff:.3g} > {atol}"


def assert_matches_reference(
    encoder_dir: pathlib.Path, written, config: dict, mlm: bool = False
) -> None:
    """The exported encoder equals the torch reference on padded two-segment inputs."""
    import tensorflow as tf

    encoder = tf.saved_model.load(os.fspath(encoder_dir))
    inputs = checkpoint_factory.sample_inputs(config, batch=3, seq_length=11)
    positions = np.array([[1, 2, 4]] * 3, np.int32)
    expected = checkpoint_factory.reference_outputs(
        written.reference, inputs, masked_lm_positions=positions if mlm else None
    )
    tensors = {k: tf.constant(v) for k, v in inputs.items()}
    outputs = encoder(tensors, training=False)
    assert len(outputs["encoder_outputs"]) == config["num_hidden_layers"]
    for i, layer in enumerate(outputs["encoder_outputs"]):
        assert_close(layer, expected["encoder_outputs"][i], what=f"encoder_outputs[{i}]")
    assert_close(outputs["sequence_output"], expected["sequence_output"], what="sequence_output")
    assert_close(outputs["pooled_output"], expected["pooled_output"], what="pooled_output")
    assert_close(outputs["default"], expected["pooled_output"], what="default")
    if mlm:
        mlm_out = encoder.mlm(
            {**tensors, "masked_lm_positions": tf.constant(positions)}, training=False
        )
        assert_close(mlm_out["mlm_logits"], expected["mlm_logits"], what="mlm_logits")


def leftovers(out: pathlib.Path) -> list[str]:
    """Names beside `out` that belong to an export to `out` (the folder or its temporaries)."""
    if not out.parent.exists():
        return []
    return sorted(
        p.name
        for p in out.parent.iterdir()
        if p.name == out.name or p.name.startswith(f".{out.name}.")
    )
