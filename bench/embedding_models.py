"""Sentence-embedding models end to end: strings in, the model's own vectors out.

all-MiniLM-L6-v2 as its modules.json says (mean pooling, Normalize, at most
256 tokens), on 3000+ real lines of mixed length (`bench.corpus`), batches of
32, four contenders in one process, interleaved, one timed run each after a
warm-up on every 8th line:

- `embedding_savedmodel`: the export's `embedding/` SavedModel
  (`tf.saved_model.load`), called on consecutive batches of raw strings, as a
  TF Hub / TF Serving user calls it (no length sorting);
- `bert_tf_embed`: `bert_tf.embed` on the export (length-sorted,
  pad-to-longest batches; the export's own stack);
- `st_torch`: `SentenceTransformer(path).encode(lines)` (default torch backend);
- `st_onnx`: the same with `backend="onnx"` (ONNX Runtime, its fastest CPU
  path here), when onnxruntime and optimum are installed.

Model loading is not timed. The max abs difference of every contender's
vectors to `st_torch`'s is recorded (they must agree, or the speed means
nothing). Ratios: each bert-tf contender over the faster sentence-transformers
backend.

Run:
  .venv/bin/python -m bench.embedding_models
  .venv/bin/python -m bench.embedding_models --lines=4000
"""

from __future__ import annotations

from bench import harness

harness.quiet_environment()

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from bench import corpus, models  # noqa: E402

_LINES = flags.DEFINE_integer("lines", 3000, "Lines to embed (at most the corpus).")
_BATCH = flags.DEFINE_integer("batch_size", 32, "Batch size of every contender.")
_REPEATS = flags.DEFINE_integer("repeats", 1, "Timed runs of each contender.")

COLUMNS = [
    ("contender", "{}"),
    ("lines_per_s", "{:.1f}"),
    ("ratio_vs_best_st", "{:.2f}x"),
    ("max_abs_diff_vs_st_torch", "{:.1e}"),
]


def _onnx_model(path):
    """`SentenceTransformer(path, backend="onnx")`, or None when ONNX Runtime is missing."""
    from sentence_transformers import SentenceTransformer

    try:
        import onnxruntime  # noqa: F401
        import optimum  # noqa: F401
    except ImportError:
        return None
    return SentenceTransformer(str(path), device="cpu", backend="onnx")


def main(argv) -> None:
    del argv
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tf-text ops)
    from sentence_transformers import SentenceTransformer

    from bert_tf import embedding, interface

    run = harness.Run("embedding_models")
    lines = corpus.sentences(_LINES.value)
    batch = _BATCH.value
    export = models.export_dir("minilm")
    saved = tf.saved_model.load(str(interface.ExportLayout(export).embedding_dir))
    embedder = embedding.load(export)
    st = SentenceTransformer(str(models.minilm_path()), device="cpu")
    onnx = _onnx_model(models.minilm_path())

    def savedmodel(texts=lines):
        parts = [
            saved(tf.constant(texts[i : i + batch])).numpy() for i in range(0, len(texts), batch)
        ]
        return np.concatenate(parts)

    def bert_tf_embed(texts=lines):
        return embedder.embed(texts, batch_size=batch)

    def encoder_of(model):
        def encode(texts=lines):
            return model.encode(
                texts, batch_size=batch, convert_to_numpy=True, show_progress_bar=False
            )

        return encode

    contenders = {
        "embedding_savedmodel": savedmodel,
        "bert_tf_embed": bert_tf_embed,
        "st_torch": encoder_of(st),
    }
    if onnx is not None:
        contenders["st_onnx"] = encoder_of(onnx)
    for fn in contenders.values():
        fn(lines[::8])  # warm-up: every length once
    outputs = {}

    def timed(name, fn):
        def call():
            outputs[name] = fn()

        return call

    timings = harness.measure_interleaved(
        {name: timed(name, fn) for name, fn in contenders.items()},
        warmup=0,
        repeats=_REPEATS.value,
        budget_s=0.0,
    )
    rates = {name: t.per_second(len(lines)) for name, t in timings.items()}
    best_st = max(rate for name, rate in rates.items() if name.startswith("st_"))
    for name, timing in timings.items():
        run.add(
            {
                "contender": name,
                "lines": len(lines),
                "mean_words": float(np.mean([len(s.split()) for s in lines])),
                "batch_size": batch,
                "lines_per_s": rates[name],
                "ratio_vs_best_st": rates[name] / best_st,
                "max_abs_diff_vs_st_torch": float(
                    np.max(np.abs(outputs[name] - outputs["st_torch"]))
                ),
                "timing": timing.to_dict(),
            }
        )
    run.finish(COLUMNS, title="Embedding models end to end: lines -> own-stack vectors (lines/s)")


if __name__ == "__main__":
    app.run(main)
