"""Export cost: wall time and peak memory of `bert-tf-export` on big checkpoints.

For random Hugging Face checkpoints shaped like BERT-base (440 MB of
safetensors) and BERT-large (1.3 GB), runs the real command,
`bert-tf-export --checkpoint=... --output_dir=... --overwrite` (verification
included), each time in a fresh subprocess, and reads that process's peak
resident memory (`ru_maxrss` from `os.wait4`). Reported as ratios to the
checkpoint's size on disk, next to the peak RSS of a process that only imports
what the export imports (TensorFlow alone is a few hundred MB).
One untimed warm-up export first (it also puts the checkpoint in the page
cache); the figures are medians of the timed ones.

Run:
  .venv/bin/python -m bench.export_cost
  .venv/bin/python -m bench.export_cost --models=bert-base --repeats=1
"""

from __future__ import annotations

from bench import harness

harness.quiet_environment()

import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402

from bench import models  # noqa: E402

_MODELS = flags.DEFINE_list("models", ["bert-base", "bert-large"], "Checkpoints to export.")
_REPEATS = flags.DEFINE_integer("repeats", 2, "Timed exports per checkpoint.")
_WARMUP = flags.DEFINE_integer("warmup", 1, "Untimed exports per checkpoint first.")

COLUMNS = [
    ("model", "{}"),
    ("checkpoint_mb", "{:.0f}"),
    ("export_s", "{:.1f}"),
    ("peak_rss_mb", "{:.0f}"),
    ("import_rss_mb", "{:.0f}"),
    ("rss_over_checkpoint", "{:.2f}x"),
    ("rss_minus_imports_over_checkpoint", "{:.2f}x"),
]
MB = 1e6
IMPORTS = (
    "import tensorflow, tf_keras, tensorflow_text, safetensors; import export.pair, export.__main__"
)


def run_child(args: list[str]) -> tuple[float, int]:
    """Runs `python args...` in a fresh process; returns (seconds, peak RSS bytes)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=models.REPO,
    )
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = output.decode(errors="replace").strip().splitlines()[-5:]
        raise RuntimeError(f"{' '.join(args[:3])} failed ({proc.returncode}): " + " | ".join(tail))
    return seconds, usage.ru_maxrss * 1024  # ru_maxrss is in KiB on Linux.


def main(argv) -> None:
    del argv
    run = harness.Run("export_cost")
    _, import_rss = run_child(["-c", IMPORTS])
    run.extra["import_rss_mb"] = import_rss / MB
    print(f"imports alone: peak RSS {import_rss / MB:.0f} MB", flush=True)
    harness.CACHE_DIR.mkdir(parents=True, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="export_cost_", dir=harness.CACHE_DIR)
    try:
        for name in _MODELS.value:
            checkpoint = models.random_checkpoint(name)
            size = models.checkpoint_bytes(checkpoint)
            args = [
                "-m",
                "bert_tf.cli.export",
                f"--checkpoint={checkpoint}",
                f"--output_dir={os.path.join(workdir, name)}",
                "--overwrite",
            ]
            for _ in range(_WARMUP.value):
                run_child(args)
            results = [run_child(args) for _ in range(_REPEATS.value)]
            seconds = statistics.median(r[0] for r in results)
            rss = statistics.median(r[1] for r in results)
            row = {
                "model": name,
                "checkpoint": str(checkpoint),
                "checkpoint_mb": size / MB,
                "export_s": seconds,
                "peak_rss_mb": rss / MB,
                "import_rss_mb": import_rss / MB,
                "rss_over_checkpoint": rss / size,
                "rss_minus_imports_over_checkpoint": (rss - import_rss) / size,
                "runs": [{"seconds": s, "peak_rss_mb": r / MB} for s, r in results],
            }
            print(
                f"  {name}: {seconds:.1f} s, peak RSS {rss / MB:.0f} MB "
                f"({rss / size:.2f}x the checkpoint)",
                flush=True,
            )
            run.add(row)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    run.finish(COLUMNS, title="Export cost (bert-tf-export, verification included)")


if __name__ == "__main__":
    app.run(main)
