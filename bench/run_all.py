"""Runs every benchmark, each in its own process, then prints the summary of ratios.

`make bench` calls this. Each benchmark writes `bench/results/<name>.json`;
the summary (`bench/results/summary.json` and `summary.md`, the README's
Performance table) reads them back and marks each target met or not.

Run:
  .venv/bin/python -m bench.run_all
  .venv/bin/python -m bench.run_all --only=encoder_throughput,end_to_end
  .venv/bin/python -m bench.run_all --summary_only   # re-summarize the last results

A shared machine makes timings noisy: run it when the machine is quiet
(`uptime`); every JSON records the load average before and after.
"""

from __future__ import annotations

from bench import harness

harness.quiet_environment()

import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

from absl import app, flags  # noqa: E402

BENCHMARKS = (
    "encoder_throughput",
    "preprocess_throughput",
    "end_to_end",
    "embedding_models",
    "export_cost",
    "beam_embedding",
    "task_serving",
)

_ONLY = flags.DEFINE_list("only", list(BENCHMARKS), "Benchmarks to run.")
_SUMMARY_ONLY = flags.DEFINE_bool(
    "summary_only", False, "Only summarize the results already written."
)


def _load(name: str) -> dict | None:
    path = harness.RESULTS_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _target(rows: list[dict], what: str, figure: str, ok: bool, target: str, source: dict) -> None:
    rows.append(
        {
            "target": target,
            "measured": figure,
            "what": what,
            "met": "met" if ok else "NOT met",
            "load_average": "/".join(
                f"{x:.1f}"
                for x in source["load_average_before"][:1] + source["load_average_after"][:1]
            ),
        }
    )


def summarize() -> list[dict]:
    """The targets of issue 6, each with the figure from the last results."""
    rows: list[dict] = []
    enc = _load("encoder_throughput")
    if enc:
        for r in enc["rows"]:
            if r["shape"] == "32x128":
                ratio = r["ratio_vs_hf"]
                _target(
                    rows,
                    f"encoder {r['model']} 32x128 vs HF PyTorch",
                    f"{ratio:.2f}x",
                    ratio >= 1.5,
                    ">= 1.5x",
                    enc,
                )
                frac = r["ours_frac_of_matmul"]
                _target(
                    rows,
                    f"encoder {r['model']} 32x128 GFLOP/s / matmul",
                    f"{frac:.0%} ({r['ours_gflop_per_s']:.0f} of "
                    f"{r['matmul_gflop_per_s']:.0f} GFLOP/s)",
                    frac >= 0.75,
                    ">= 75%",
                    enc,
                )
    pre = _load("preprocess_throughput")
    if pre:
        for r in sorted(pre["rows"], key=lambda r: r["batch_size"]):
            ratio = r["ratio_vs_hf_fast"]
            _target(
                rows,
                f"preprocess vs BertTokenizerFast (batch {r['batch_size']})",
                f"{ratio:.2f}x",
                ratio >= 5.0,
                ">= 5x",
                pre,
            )
    e2e = _load("end_to_end")
    if e2e:
        r = e2e["rows"][0]
        _target(
            rows,
            f"end to end vs sentence-transformers ({r['sentences']} sentences)",
            f"{r['ratio_vs_st']:.2f}x",
            r["ratio_vs_st"] >= 2.0,
            ">= 2x",
            e2e,
        )
    emb = _load("embedding_models")
    if emb:
        for r in emb["rows"]:
            if r["contender"].startswith("st_"):
                continue
            _target(
                rows,
                f"{r['contender']} vs the faster sentence-transformers backend "
                f"({r['lines']} lines, max abs diff {r['max_abs_diff_vs_st_torch']:.1e})",
                f"{r['ratio_vs_best_st']:.2f}x",
                r["ratio_vs_best_st"] >= 2.0 and r["max_abs_diff_vs_st_torch"] <= 1e-5,
                ">= 2x",
                emb,
            )
    cost = _load("export_cost")
    if cost:
        for r in cost["rows"]:
            _target(
                rows,
                f"export {r['model']} peak RSS / checkpoint",
                f"{r['rss_over_checkpoint']:.2f}x ({r['peak_rss_mb']:.0f} MB)",
                r["rss_over_checkpoint"] <= 1.5,
                "<= 1.5x",
                cost,
            )
            net = r["rss_minus_imports_over_checkpoint"]
            _target(
                rows,
                f"export {r['model']} peak RSS net of imports / checkpoint",
                f"{net:.2f}x ({r['peak_rss_mb'] - r['import_rss_mb']:.0f} MB)",
                net <= 1.5,
                "<= 1.5x",
                cost,
            )
            if r["model"] == "bert-large":
                _target(
                    rows,
                    "export bert-large wall time (verification included)",
                    f"{r['export_s']:.1f} s",
                    r["export_s"] < 60,
                    "< 60 s",
                    cost,
                )
    beam = _load("beam_embedding")
    if beam:
        for r in beam["rows"]:
            if r["contender"] == "beam_direct_2_workers":
                _target(
                    rows,
                    f"Beam DirectRunner, 2 workers, vs in process ({r['lines']} lines; steady "
                    f"{r['steady_ratio']:.2f}x without the fixed start-up)",
                    f"{r['ratio_vs_in_process']:.2f}x",
                    r["ratio_vs_in_process"] >= 0.85,
                    ">= 0.85x (issue 16)",
                    beam,
                )
    tasks = _load("task_serving")
    if tasks:
        for r in tasks["rows"]:
            _target(
                rows,
                f"{r['task']} vs {r['peer']} ({r['items']} items; outputs: {r['same_outputs']})",
                f"{r['ratio']:.2f}x",
                r["ratio"] >= 2.0,
                ">= 2x (issue 13)",
                tasks,
            )
    return rows


def main(argv) -> None:
    del argv
    failed = []
    if not _SUMMARY_ONLY.value:
        for name in _ONLY.value:
            if name not in BENCHMARKS:
                raise app.UsageError(
                    f"--only: unknown benchmark {name!r}; expected some of {', '.join(BENCHMARKS)}"
                )
        for name in _ONLY.value:
            print(f"=== {name} (load average {os.getloadavg()[0]:.2f})", flush=True)
            done = subprocess.run(
                [sys.executable, "-m", f"bench.{name}"],
                cwd=harness.RESULTS_DIR.parent.parent,
                check=False,
            )
            if done.returncode != 0:
                failed.append(name)
    rows = summarize()
    columns = [
        ("what", "{}"),
        ("measured", "{}"),
        ("target", "{}"),
        ("met", "{}"),
        ("load_average", "{}"),
    ]
    table = harness.format_table(rows, columns)
    print("\nTargets (issue 6)\n" + table)
    harness.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (harness.RESULTS_DIR / "summary.md").write_text(table + "\n")
    (harness.RESULTS_DIR / "summary.json").write_text(
        json.dumps({"machine": harness.machine(), "targets": rows}, indent=2) + "\n"
    )
    if failed:
        print(f"failed: {', '.join(failed)} (their summary rows are from earlier runs)")
        sys.exit(1)


if __name__ == "__main__":
    app.run(main)
