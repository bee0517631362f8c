"""What every benchmark shares: timing, the matmul ceiling, the machine, output.

Rules the scripts follow (and that this module enforces where it can):
- a figure is the median of repeated runs after warm-up runs;
- a comparison is a ratio of two figures measured in the same process run,
  one after the other, never against numbers from another run;
- each script prints a table and writes `bench/results/<name>.json`, with the
  machine, the library versions and the load average before and after.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import pathlib
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

RESULTS_DIR = pathlib.Path(__file__).resolve().parent / "results"
CACHE_DIR = pathlib.Path(
    os.environ.get("BERT_TF_BENCH_CACHE", pathlib.Path.home() / ".cache" / "bert_tf_bench")
)


def quiet_environment() -> None:
    """Quiet TensorFlow logs and keep Hugging Face offline; call before imports."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


@dataclasses.dataclass(frozen=True)
class Timing:
    """Seconds per call: the median and every repeat (warm-up excluded)."""

    median_s: float
    times_s: tuple[float, ...]

    def per_second(self, items: float) -> float:
        return items / self.median_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "median_s": self.median_s,
            "repeats": len(self.times_s),
            "min_s": min(self.times_s),
            "max_s": max(self.times_s),
        }


def measure(
    fn: Callable[[], Any],
    *,
    warmup: int = 2,
    repeats: int = 5,
    budget_s: float = 20.0,
    max_repeats: int = 50,
) -> Timing:
    """Times `fn()`: `warmup` untimed calls, then at least `repeats` timed ones.

    Timed calls continue past `repeats` (up to `max_repeats`) while the total
    stays within `budget_s`, so fast calls get many samples and slow calls
    still finish.
    """
    for _ in range(warmup):
        fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeats or (
        len(times) < max_repeats and time.perf_counter() - start < budget_s
    ):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return Timing(statistics.median(times), tuple(times))


def measure_interleaved(
    fns: dict[str, Callable[[], Any]],
    *,
    warmup: int = 2,
    repeats: int = 5,
    budget_s: float = 20.0,
    max_repeats: int = 50,
) -> dict[str, Timing]:
    """Times several callables in alternation: A B C A B C ...

    Interleaving spreads a slow spell of a shared machine over every
    contender instead of charging it to one, which keeps the ratios honest.
    Each gets `warmup` untimed calls first, then at least `repeats` timed
    calls, more while the whole stays within `budget_s`.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    start = time.perf_counter()
    rounds = 0
    while rounds < repeats or (rounds < max_repeats and time.perf_counter() - start < budget_s):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
        rounds += 1
    return {name: Timing(statistics.median(t), tuple(t)) for name, t in times.items()}


def matmul_fn(size: int = 2048) -> tuple[Callable[[], Any], float]:
    """A float32 `size`^3 TensorFlow matmul to time, and its FLOPs.

    Timed next to (interleaved with) a contender, its GFLOP/s is the
    machine's ceiling under the same load at the same moment.
    """
    import tensorflow as tf

    a = tf.random.stateless_normal([size, size], seed=[1, 2])
    b = tf.random.stateless_normal([size, size], seed=[3, 4])
    matmul = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)[:1, :1]))
    return (lambda: matmul().numpy()), 2.0 * size**3


def matmul_ceiling(size: int = 2048) -> dict[str, Any]:
    """Float32 `size`^3 matmul GFLOP/s in TensorFlow: this machine's ceiling now."""
    fn, flops = matmul_fn(size)
    timing = measure(fn, warmup=2, repeats=7, budget_s=5.0)
    return {"size": size, "gflop_per_s": flops / timing.median_s / 1e9, **timing.to_dict()}


def bert_forward_flops(
    *, batch: int, seq: int, hidden: int, layers: int, intermediate: int
) -> float:
    """Multiply-add FLOPs (2 per MAC) of one BERT encoder forward pass.

    Per layer and token: Q, K, V and output projections (8 H^2), the
    feed-forward (4 H I), scores and weighted sum (4 S H); plus the pooler.
    Softmax, LayerNorm, GELU and embeddings are left out (well under 1%).
    """
    per_token_layer = 8 * hidden**2 + 4 * hidden * intermediate + 4 * seq * hidden
    return float(batch * seq * layers * per_token_layer + 2 * batch * hidden**2)


def _cpu_model() -> str:
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in (
        "tensorflow",
        "tensorflow-text",
        "tf-keras",
        "torch",
        "transformers",
        "tokenizers",
        "sentence-transformers",
        "numpy",
    ):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def machine() -> dict[str, Any]:
    """The machine and software a result was measured on."""
    mem_kib = 0
    try:
        for line in pathlib.Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "platform": platform.platform(),
        "versions": _versions(),
    }


class Run:
    """One benchmark script's run: collects rows, prints a table, writes JSON.

    Usage:
      run = Run("encoder_throughput", argv=sys.argv)
      run.add({"model": ..., "ratio": ...})
      run.finish(columns=[("model", "{}"), ("ratio", "{:.2f}x")])
    """

    def __init__(self, name: str, *, argv: Sequence[str] | None = None):
        self.name = name
        self.rows: list[dict[str, Any]] = []
        self.extra: dict[str, Any] = {}
        self.started = datetime.datetime.now(datetime.UTC)
        self.load_before = os.getloadavg()
        self.argv = list(argv if argv is not None else sys.argv)

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)

    def finish(self, columns: Sequence[tuple[str, str]], *, title: str = "") -> pathlib.Path:
        """Prints the table and writes the JSON; returns the JSON's path."""
        payload = {
            "benchmark": self.name,
            "started_utc": self.started.isoformat(timespec="seconds"),
            "wall_s": round(
                (datetime.datetime.now(datetime.UTC) - self.started).total_seconds(), 1
            ),
            "command": " ".join(self.argv),
            "load_average_before": [round(x, 2) for x in self.load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "machine": machine(),
            **self.extra,
            "rows": self.rows,
        }
        print()
        print(title or self.name)
        print(format_table(self.rows, columns))
        print(
            f"load average before {payload['load_average_before']}, "
            f"after {payload['load_average_after']}"
        )
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"{self.name}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n")
        os.replace(tmp, path)
        print(f"wrote {path}")
        return path


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, pathlib.Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """A Markdown table of `rows`; `columns` are (key, format) pairs."""
    header = [key for key, _ in columns]
    body = []
    for row in rows:
        cells = []
        for key, fmt in columns:
            value = row.get(key)
            cells.append("-" if value is None else fmt.format(value))
        body.append(cells)
    widths = [
        max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(header)
    ]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |",
        "| " + " | ".join("-" * w for w in widths) + " |",
    ]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in body]
    return "\n".join(lines)


def encoder_inputs(batch: int, seq: int, vocab: int, *, pad_first_row: bool = False) -> dict:
    """Random int32 encoder inputs `[batch, seq]`, `[CLS]` first and `[SEP]` last.

    The same seed for the same shape, so every contender sees the same ids.
    `pad_first_row` pads the last quarter of row 0 (when `batch` > 1), to
    exercise the attention mask.
    """
    import numpy as np

    rng = np.random.default_rng(batch * 1000 + seq)
    ids = rng.integers(1000, vocab, size=(batch, seq), dtype=np.int32)
    ids[:, 0] = 101
    ids[:, -1] = 102
    mask = np.ones((batch, seq), np.int32)
    if pad_first_row and batch > 1:
        mask[0, seq - seq // 4 :] = 0
        ids[0, seq - seq // 4 :] = 0
    return {
        "input_word_ids": ids,
        "input_mask": mask,
        "input_type_ids": np.zeros((batch, seq), np.int32),
    }


def torch_inputs(arrays: dict) -> dict:
    """`encoder_inputs` under Hugging Face's names, as int64 torch tensors."""
    import torch

    names = {
        "input_ids": "input_word_ids",
        "attention_mask": "input_mask",
        "token_type_ids": "input_type_ids",
    }
    return {hf: torch.from_numpy(arrays[ours]).long() for hf, ours in names.items()}
