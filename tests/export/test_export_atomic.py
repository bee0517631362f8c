"""Atomicity: an export is either complete at --output_dir, or not there at all."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest
from export_helpers import REPO, SEQ_LENGTH, leftovers

from bert_tf import atomic
from bert_tf.errors import OutputError


def _start_export(checkpoint: pathlib.Path, out: pathlib.Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bert_tf.cli.export",
            f"--checkpoint={checkpoint}",
            f"--output_dir={out}",
            f"--default_seq_length={SEQ_LENGTH}",
            *extra,
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_write(process: subprocess.Popen, out: pathlib.Path, timeout: float = 240) -> None:
    """Waits until the export has started writing its temporary folder."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        temporaries = list(out.parent.glob(f".{out.name}.tmp-*"))
        if any(any(tmp.iterdir()) for tmp in temporaries if tmp.is_dir()):
            return
        assert process.poll() is None, process.communicate()[1][-3000:]
        time.sleep(0.05)
    process.kill()
    pytest.fail("the export never started writing")


def test_killed_export_leaves_no_output_folder(tmp_path, checkpoints):
    out = tmp_path / "killed"
    process = _start_export(checkpoints["google"].folder, out)
    _wait_for_write(process, out)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert not out.exists()
    # The next export to the same place removes the dead writer's temporary folder.
    with atomic.atomic_directory(out) as tmp:
        (tmp / "marker").write_text("new")
    assert leftovers(out) == ["killed"]


def test_ctrl_c_mid_export_keeps_the_old_export(tmp_path, checkpoints):
    out = tmp_path / "interrupted"
    out.mkdir()
    (out / "README.md").write_text("the previous export")
    process = _start_export(checkpoints["google"].folder, out, "--overwrite")
    _wait_for_write(process, out)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-3000:]
    assert stderr.strip().splitlines()[-1] == "error: interrupted: nothing was written"
    assert "Traceback" not in stderr
    assert leftovers(out) == ["interrupted"]
    assert [p.name for p in out.iterdir()] == ["README.md"]
    assert (out / "README.md").read_text() == "the previous export"


def test_atomic_directory_success_failure_and_overwrite(tmp_path):
    out = tmp_path / "parents" / "out"
    with pytest.raises(RuntimeError):
        with atomic.atomic_directory(out) as tmp:
            (tmp / "half").write_text("x")
            raise RuntimeError("boom")
    assert not (tmp_path / "parents").exists()  # created parents are removed again

    with atomic.atomic_directory(out) as tmp:
        (tmp / "v1").write_text("1")
    assert [p.name for p in out.iterdir()] == ["v1"]

    with pytest.raises(OutputError, match="already exists: pass --overwrite"):
        with atomic.atomic_directory(out):
            pass
    with pytest.raises(KeyboardInterrupt):
        with atomic.atomic_directory(out, overwrite=True) as tmp:
            (tmp / "v2").write_text("2")
            raise KeyboardInterrupt
    assert [p.name for p in out.iterdir()] == ["v1"]

    with atomic.atomic_directory(out, overwrite=True) as tmp:
        (tmp / "v2").write_text("2")
    assert [p.name for p in out.iterdir()] == ["v2"]
    assert leftovers(out) == ["out"]


def test_atomic_directory_refuses_a_file(tmp_path):
    target = tmp_path / "file"
    target.write_text("")
    with pytest.raises(OutputError, match="exists and is not a folder"):
        with atomic.atomic_directory(target, overwrite=True):
            pass
