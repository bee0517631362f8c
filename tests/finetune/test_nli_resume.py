"""Checkpoints: a run killed mid-way and restarted ends bit-identical to an uninterrupted one.

Both runs use the same seed and `--noencoder_dropout`. Everything else that
draws randomness is deterministic across a restart: the data order is a
function of (seed, epoch) and the resumed run skips the consumed part of the
epoch; the head's dropout draws from a generator whose state is checkpointed.
The exported encoder's own dropout, by contrast, runs stateful random ops
frozen into its SavedModel, whose state restarts with the process: with it on,
a resumed run is statistically equivalent but not bitwise equal, so this test
turns it off. On CPU, every op here is deterministic, so the tolerance is 0. Both Keras
paths (`--keras=2`: `hub.KerasLayer`; `--keras=3`: `bert_tf.keras3`) are held
to it.
"""

import json
import os
import subprocess
import time

import numpy as np
import pytest
from finetune_helpers import REPO, checkpoint_values, cli_command, run_cli

STEPS = 60


def _args(export_dir, nli_files, output_dir, keras="2"):
    train, evaluation = nli_files
    return [
        f"--keras={keras}",
        f"--export_dir={export_dir}",
        f"--train={train}",
        f"--eval={evaluation}",
        f"--output_dir={output_dir}",
        f"--steps={STEPS}",
        "--batch_size=32",
        "--seq_length=48",
        "--learning_rate=5e-4",
        "--checkpoint_every=10",
        "--seed=7",
        "--noencoder_dropout",
    ]


def _kill_after_checkpoint(args, checkpoint_dir, step, timeout=240):
    process = subprocess.Popen(
        cli_command(*args), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + timeout
    try:
        while not (checkpoint_dir / f"ckpt-{step}.index").exists():
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.02)
    finally:
        process.kill()
        process.wait()


def _assert_modes_follow_umask(run_dir):
    """Another user (a model server) can read the run as the umask allows, like an export."""
    umask = os.umask(0o022)
    os.umask(umask)
    paths = [run_dir, *run_dir.rglob("*")]
    assert {"classifier", "eval_results.json"} <= {p.name for p in paths}
    for path in paths:
        readable = 0o055 if path.is_dir() else 0o044  # r (and x for folders) for group, others
        assert path.stat().st_mode & readable == readable & ~umask, (path, oct(path.stat().st_mode))


@pytest.mark.parametrize("keras", ["2", pytest.param("3", marks=pytest.mark.slow)])
def test_kill_and_resume_equals_uninterrupted(tiny_export_dir, nli_files, tmp_path, keras):
    uninterrupted = run_cli(*_args(tiny_export_dir, nli_files, tmp_path / "a", keras))
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-3000:]
    _assert_modes_follow_umask(tmp_path / "a")

    resumed_dir = tmp_path / "b"
    _kill_after_checkpoint(
        _args(tiny_export_dir, nli_files, resumed_dir, keras), resumed_dir / "checkpoints", 20
    )
    assert not (resumed_dir / "checkpoints" / f"ckpt-{STEPS}.index").exists()
    resumed = run_cli(*_args(tiny_export_dir, nli_files, resumed_dir, keras))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Resumed from" in resumed.stderr

    expected = checkpoint_values(tmp_path / "a" / "checkpoints" / f"ckpt-{STEPS}")
    found = checkpoint_values(resumed_dir / "checkpoints" / f"ckpt-{STEPS}")
    assert sorted(found) == sorted(expected)
    assert any("generator" in name for name in expected)  # the head's dropout state is saved
    assert any("/m/" in name or "Adam" in name or "optimizer" in name for name in expected)
    different = [name for name in expected if not np.array_equal(expected[name], found[name])]
    assert not different, different[:5]

    # Evaluations after each epoch: the same figures, each epoch once.
    def evaluations(folder):
        return json.loads((folder / "eval_results.json").read_text())["evaluations"]

    a, b = evaluations(tmp_path / "a"), evaluations(resumed_dir)
    assert [e["step"] for e in b] == [e["step"] for e in a] == [15, 30, 45, 60]
    assert [e["confusion_matrix"] for e in b] == [e["confusion_matrix"] for e in a]
    assert set(a[-1]["per_class"]) == {"entailment", "neutral", "contradiction"}
    assert (resumed_dir / "classifier" / "saved_model.pb").exists()
    assert json.loads((resumed_dir / "run_config.json").read_text())["keras"] == int(keras)

    # A restart with different settings is refused with one line, not resumed.
    changed = run_cli(*_args(tiny_export_dir, nli_files, tmp_path / "a", keras), "--batch_size=16")
    assert changed.returncode == 1
    assert changed.stderr.strip().splitlines()[-1].startswith("error: ")
    assert (
        "cannot resume, the checkpoints were written with batch_size=32, this run has batch_size=16"
        in changed.stderr
    )
    assert "Traceback" not in changed.stderr
