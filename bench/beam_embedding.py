"""Corpus embedding on Apache Beam vs in process, on the same corpus file.

all-MiniLM-L6-v2 (its own stack), 2000 real lines of mixed length
(`bench.corpus`) in one text file, batches of 32, in one process run, two
interleaved rounds (the median of each contender counts):

- `in_process`: `embed_file` (what `bert-tf-embed` without `--runner` runs),
  the model already loaded (warm), as a long-running process has it;
- `beam_direct_2_workers`: `embed_corpus` on the DirectRunner with
  `--direct_num_workers=2 --direct_running_mode=multi_processing`, end to
  end: worker start-up, model load in each worker, reading, embedding,
  Parquet writing;
- `beam_direct_1_worker`: the same in one in-memory worker;
- `beam_fixed_cost`: the 2-worker pipeline on a one-line file: what a run
  costs before its first line (start-up, model loads, finalization).

Ratios: lines/s of each over `in_process`; `steady_ratio` discounts the
fixed cost (lines / (seconds - fixed seconds)), what a corpus large enough
to amortize it approaches. On a 2-core machine two workers (one TensorFlow
thread each, `_threads_per_worker`) share the cores the in-process run
already uses, so no speed-up is possible here: the figure is the pipeline's
overhead, not its scaling.

Run:
  .venv/bin/python -m bench.beam_embedding
  .venv/bin/python -m bench.beam_embedding --lines=6000 --rounds=3
"""

from __future__ import annotations

from bench import harness

harness.quiet_environment()

import pathlib  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

from absl import app, flags  # noqa: E402

from bench import corpus, models  # noqa: E402

_LINES = flags.DEFINE_integer("lines", 2000, "Lines to embed (at most the corpus).")
_BATCH = flags.DEFINE_integer("batch_size", 32, "Texts per encoder call.")
_ROUNDS = flags.DEFINE_integer("rounds", 2, "Timed runs of each contender (the median counts).")

TWO_WORKERS = ("--direct_num_workers=2", "--direct_running_mode=multi_processing")
COLUMNS = [
    ("contender", "{}"),
    ("lines", "{}"),
    ("seconds", "{:.1f}"),
    ("lines_per_s", "{:.1f}"),
    ("ratio_vs_in_process", "{:.2f}x"),
    ("steady_ratio", "{:.2f}x"),
]


def main(argv) -> None:
    del argv
    from bert_tf import embedding
    from bert_tf.embedding.beam import embed_corpus

    run = harness.Run("beam_embedding")
    lines = corpus.sentences(_LINES.value)
    batch = _BATCH.value
    export = models.export_dir("minilm")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        source, one_line = tmp / "corpus.txt", tmp / "one.txt"
        source.write_text("\n".join(lines) + "\n", encoding="utf-8")
        one_line.write_text(lines[0] + "\n", encoding="utf-8")
        embedding.embed_file(one_line, tmp / "warm.npy", export)  # loads the model: untimed

        def in_process():
            embedding.embed_file(source, tmp / "in_process.npy", export, batch_size=batch)

        def beam(path, args, name):
            def call():
                out = tmp / name
                shutil.rmtree(out, ignore_errors=True)  # a rerun may not reuse the prefix
                out.mkdir()
                embed_corpus(
                    str(path), str(out / "v"), export, pipeline_args=args, batch_size=batch
                )

            return call

        contenders = {
            "in_process": (in_process, len(lines)),
            "beam_direct_2_workers": (beam(source, TWO_WORKERS, "two"), len(lines)),
            "beam_direct_1_worker": (beam(source, (), "one"), len(lines)),
            "beam_fixed_cost": (beam(one_line, TWO_WORKERS, "fixed"), 1),
        }
        # Interleaved rounds (A B C D A B C D): a slow spell of the shared
        # machine is spread over every contender.
        timings = harness.measure_interleaved(
            {name: fn for name, (fn, _) in contenders.items()},
            warmup=0,
            repeats=_ROUNDS.value,
            budget_s=0.0,
        )
        seconds = {name: timing.median_s for name, timing in timings.items()}
    base = len(lines) / seconds["in_process"]
    for name, (_, count) in contenders.items():
        rate = count / seconds[name]
        steady = None
        if name == "beam_direct_2_workers":
            steady = len(lines) / (seconds[name] - seconds["beam_fixed_cost"]) / base
        run.add(
            {
                "contender": name,
                "lines": count,
                "batch_size": batch,
                "seconds": seconds[name],
                "timing": timings[name].to_dict(),
                "lines_per_s": rate,
                "ratio_vs_in_process": rate / base if count == len(lines) else None,
                "steady_ratio": steady,
            }
        )
    run.finish(COLUMNS, title="Corpus embedding: Beam DirectRunner vs in process (lines/s)")
    table = harness.format_table(run.rows, COLUMNS)
    (harness.RESULTS_DIR / "beam_embedding.md").write_text(
        "# Beam DirectRunner vs in-process embedding\n\n"
        f"{len(lines)} lines, all-MiniLM-L6-v2, batch {batch}, "
        f"{harness.machine()['cores']} cores, median of {_ROUNDS.value} interleaved rounds, "
        f"load average {run.load_before[0]:.1f} before; `python -m bench.beam_embedding` "
        "(details: beam_embedding.json).\n\n" + table + "\n"
    )


if __name__ == "__main__":
    app.run(main)
