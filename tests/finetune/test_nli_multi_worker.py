"""`bert-tf-finetune --strategy=multi_worker`: two worker processes on this machine.

The same run (no dropout, one global batch of 32) as one process with the
default strategy, as two `MultiWorkerMirroredStrategy` workers (`TF_CONFIG`
on localhost ports, 16 examples each), and as two workers of which one is
killed (SIGKILL) after the first checkpoint and both restarted: the final
checkpoints must agree to float32 round-off, only the chief writes results,
and no worker's temporary files are left.
"""

import json
import os
import signal
import socket
import subprocess
import time

import numpy as np
import pytest
from finetune_helpers import REPO, checkpoint_values, cli_command

pytestmark = pytest.mark.slow

STEPS, EVERY = 30, 10


def _flags(export_dir, train, evaluation, out, strategy):
    return [
        f"--export_dir={export_dir}",
        f"--train={train}",
        f"--eval={evaluation}",
        f"--output_dir={out}",
        f"--strategy={strategy}",
        "--seq_length=48",
        "--batch_size=32",
        f"--steps={STEPS}",
        "--learning_rate=5e-4",
        "--dropout=0",
        "--noencoder_dropout",
        "--seed=5",
        f"--checkpoint_every={EVERY}",
    ]


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start_workers(flags, log_dir, tag):
    """Starts the two workers; returns their processes."""
    ports = _free_ports(2)
    workers = []
    for index in range(2):
        config = {
            "cluster": {"worker": [f"localhost:{port}" for port in ports]},
            "task": {"type": "worker", "index": index},
        }
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_CONFIG": json.dumps(config)}
        log = open(log_dir / f"{tag}_worker{index}.log", "w")  # noqa: SIM115 (closed by the OS)
        workers.append(
            subprocess.Popen(cli_command(*flags), cwd=REPO, env=env, stdout=log, stderr=log)
        )
    return workers


def _wait(workers, log_dir, tag, timeout=400):
    for index, worker in enumerate(workers):
        code = worker.wait(timeout=timeout)
        log = (log_dir / f"{tag}_worker{index}.log").read_text()
        assert code == 0, log[-3000:]


def _final(out):
    return checkpoint_values(out / "checkpoints" / f"ckpt-{STEPS}")


def _assert_same_run(found, expected):
    assert set(found) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(found[name], value, rtol=1e-5, atol=1e-6, err_msg=name)


def test_two_workers_match_one_process_and_resume_after_a_kill(
    tiny_export_dir, nli_files, tmp_path
):
    train, evaluation = nli_files
    single = tmp_path / "single"
    done = subprocess.run(
        cli_command(*_flags(tiny_export_dir, train, evaluation, single, "default")),
        cwd=REPO,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    expected = _final(single)

    multi = tmp_path / "multi"
    flags = _flags(tiny_export_dir, train, evaluation, multi, "multi_worker")
    _wait(_start_workers(flags, tmp_path, "multi"), tmp_path, "multi")
    _assert_same_run(_final(multi), expected)
    single_eval = json.loads((single / "eval_results.json").read_text())["evaluations"]
    multi_eval = json.loads((multi / "eval_results.json").read_text())["evaluations"]
    assert [e["confusion_matrix"] for e in multi_eval] == [
        e["confusion_matrix"] for e in single_eval
    ]
    np.testing.assert_allclose(
        [e["loss"] for e in multi_eval], [e["loss"] for e in single_eval], rtol=1e-5
    )
    # The chief alone wrote results; the other worker's checkpoint copy is gone.
    assert (multi / "classifier" / "saved_model.pb").is_file()
    assert sorted(p.name for p in multi.iterdir() if p.name.startswith(".")) == []

    # Kill worker 1 once the first checkpoint is written; the chief, left
    # without its peer, is stopped too (as a cluster manager restarts a job).
    killed = tmp_path / "killed"
    flags = _flags(tiny_export_dir, train, evaluation, killed, "multi_worker")
    workers = _start_workers(flags, tmp_path, "killed")
    first = killed / "checkpoints" / f"ckpt-{EVERY}.index"
    deadline = time.monotonic() + 400
    while not first.exists() and time.monotonic() < deadline:
        assert all(w.poll() is None for w in workers), "a worker ended before its first checkpoint"
        time.sleep(0.2)
    assert first.exists()
    workers[1].send_signal(signal.SIGKILL)
    workers[0].send_signal(signal.SIGKILL)
    for worker in workers:
        worker.wait(timeout=60)
    assert not (killed / "checkpoints" / f"ckpt-{STEPS}.index").exists()
    _wait(_start_workers(flags, tmp_path, "resumed"), tmp_path, "resumed")
    resumed_log = (tmp_path / "resumed_worker0.log").read_text()
    assert "Resumed from" in resumed_log, resumed_log[-3000:]
    _assert_same_run(_final(killed), expected)
    assert (killed / "classifier" / "saved_model.pb").is_file()
    assert sorted(p.name for p in killed.iterdir() if p.name.startswith(".")) == []
