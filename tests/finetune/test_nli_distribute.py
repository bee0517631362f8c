"""MirroredStrategy over two logical CPUs follows the default strategy's loss curve (both Kerases)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from finetune_helpers import REPO


@pytest.mark.parametrize(
    "keras",
    [
        "2",
        pytest.param(
            "3",
            marks=pytest.mark.xfail(
                strict=True,
                reason="Keras 3.15 under MirroredStrategy: the loss curve leaves the one-device "
                "one by ~3e-5 from step 4 on (not its per-replica clipping, fixed; not weight "
                "decay); open",
            ),
        ),
    ],
)
@pytest.mark.slow
def test_mirrored_two_cpus_matches_default(tiny_export_dir, nli_files, tmp_path, keras):
    train, evaluation = nli_files
    script = os.path.join(os.path.dirname(__file__), "distributed_run.py")
    args = [str(tiny_export_dir), str(train), str(evaluation), str(tmp_path), keras]
    process = subprocess.run(
        [sys.executable, script, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert process.returncode == 0, process.stderr[-3000:]
    result = json.loads(process.stdout.strip().splitlines()[-1])
    default, mirrored = result["default"], result["mirrored"]
    assert (default["replicas"], mirrored["replicas"]) == (1, 2)
    assert len(default["losses"]) == len(mirrored["losses"]) == 30
    # Each replica takes half of every global batch and the gradients are summed,
    # so only the order of float additions differs: agreement to float32 round-off
    # (a wrong loss scaling would be off by 2x, a wrong split by far more).
    np.testing.assert_allclose(mirrored["losses"], default["losses"], rtol=1e-5, atol=1e-6)
    assert default["losses"][-1] < default["losses"][0]
    assert result["weight_diff"] < 1e-4
    # Evaluation under MirroredStrategy pads the last batch and counts each example once.
    assert mirrored["confusion"] == default["confusion"]
    assert sum(map(sum, mirrored["confusion"][-1])) == 120
    dropout = result["mirrored_dropout"]
    assert len(dropout["losses"]) == 3 and np.all(np.isfinite(dropout["losses"]))
    assert dropout["served_label"] in ("entailment", "neutral", "contradiction")
