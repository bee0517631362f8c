"""Peak RSS of `export_pair` per step: where the export's memory and time go.

Samples the process's resident memory every 50 ms in a thread and prints the
maximum between consecutive log lines of the export (each step logs its start
and end), so each row is "the most memory held until this message".

Run (BERT-base-shaped random checkpoint from bench.models):
  .venv/bin/python -m bench.experiments.export_rss_trace --model=bert-base
"""

from __future__ import annotations

from bench import harness

harness.quiet_environment()

import logging as std_logging  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

from absl import app, flags, logging  # noqa: E402

from bench import models  # noqa: E402

_MODEL = flags.DEFINE_string("model", "bert-base", "minilm, bert-base or bert-large.")


class _Marks(std_logging.Handler):
    def __init__(self):
        super().__init__()
        self.marks: list[tuple[float, str]] = []

    def emit(self, record):
        self.marks.append((time.perf_counter(), record.getMessage()))


def main(argv) -> None:
    del argv
    from bert_tf.export import pair

    samples: list[tuple[float, int]] = []
    page = os.sysconf("SC_PAGE_SIZE")

    def sample():
        while True:
            with open("/proc/self/statm") as f:
                samples.append((time.perf_counter(), int(f.read().split()[1]) * page))
            time.sleep(0.05)

    marks = _Marks()
    logging.get_absl_logger().addHandler(marks)
    start = time.perf_counter()
    threading.Thread(target=sample, daemon=True).start()
    with tempfile.TemporaryDirectory(dir=harness.CACHE_DIR) as out:
        pair.export_pair(str(models.checkpoint_path(_MODEL.value)), os.path.join(out, "x"))
    marks.marks.append((time.perf_counter(), "end"))
    previous = start
    for when, message in marks.marks:
        held = [rss for t, rss in samples if previous <= t <= when]
        if held:
            print(
                f"{when - start:6.1f} s  max RSS {max(held) / 1e6:6.0f} MB  until: {message[:80]}"
            )
        previous = when
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    app.run(main)
