"""MirroredStrategy over two logical CPUs follows the one-device loss curve (Keras 3 fit)."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

HERE = pathlib.Path(__file__).resolve().parent


@pytest.mark.slow
def test_mirrored_two_cpus_matches_one_device(keras3, tiny_export):
    process = subprocess.run(
        [sys.executable, os.fspath(HERE / "distributed_run.py"), os.fspath(tiny_export)],
        cwd=HERE.parents[1],
        capture_output=True,
        text=True,
        timeout=300,
        env={
            **os.environ,
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONPATH": os.pathsep.join([os.fspath(HERE), os.environ.get("PYTHONPATH", "")]),
        },
    )
    assert process.returncode == 0, process.stderr[-3000:]
    result = json.loads(process.stdout.strip().splitlines()[-1])
    default, mirrored = result["default"], result["mirrored"]
    assert (default["replicas"], mirrored["replicas"]) == (1, 2)
    # Restored under the strategy's scope, the export's variables are mirrored.
    assert mirrored["distributed"] == "MirroredVariable"
    assert len(default["losses"]) == len(mirrored["losses"]) == 8
    # Each replica takes half of every batch; only the order of float additions differs.
    np.testing.assert_allclose(mirrored["losses"], default["losses"], rtol=1e-5, atol=0)
    assert default["losses"][-1] < default["losses"][0]
    assert result["weight_diff"] < 1e-4
