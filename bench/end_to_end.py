"""End to end: text in, sentence embedding out, ours vs sentence-transformers.

Both contenders embed the same 2000 real sentences of mixed length
(`bench.corpus`; `--lines` up to 4033) with all-MiniLM-L6-v2 as it is meant to be used: mean
pooling, unit-normalized, at most 256 tokens, batches of 32.
- ours: `bert_tf.embed` on our export (tokenization by the exported
  preprocess model, length-sorted pad-to-longest batches, the exported encoder);
- sentence-transformers: `SentenceTransformer(path).encode(sentences)` on the
  original checkpoint (it also sorts by length and pads to the longest).
Model loading is not timed; everything from strings to the numpy array is.
The contenders run interleaved in one process; the figures are medians of
`--repeats` runs after a warm-up on every 8th sentence. The minimum cosine
between the two sets of vectors is recorded (they must agree, or the speed
means nothing).

Run:
  .venv/bin/python -m bench.end_to_end
  .venv/bin/python -m bench.end_to_end --lines=1000 --batch_size=64
"""

from __future__ import annotations

from bench import harness

harness.quiet_environment()

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from bench import corpus, models  # noqa: E402

_LINES = flags.DEFINE_integer("lines", 2000, "Sentences to embed (at most the corpus).")
_BATCH = flags.DEFINE_integer("batch_size", 32, "Batch size of both contenders.")
_MAX_SEQ = flags.DEFINE_integer("max_seq_length", 256, "Token limit of both contenders.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed runs of each contender.")

COLUMNS = [
    ("sentences", "{}"),
    ("mean_words", "{:.1f}"),
    ("batch_size", "{}"),
    ("ours_sentences_per_s", "{:.1f}"),
    ("st_sentences_per_s", "{:.1f}"),
    ("ratio_vs_st", "{:.2f}x"),
    ("min_cosine", "{:.6f}"),
]


def main(argv) -> None:
    del argv
    from sentence_transformers import SentenceTransformer

    from bert_tf import embedding

    run = harness.Run("end_to_end")
    sentences = corpus.sentences(_LINES.value)
    embedder = embedding.load(models.export_dir("minilm"))
    st = SentenceTransformer(str(models.minilm_path()), device="cpu")
    st.max_seq_length = _MAX_SEQ.value

    def ours(texts=sentences):
        return embedder.embed(
            texts,
            pooling="mean",
            normalize=True,
            batch_size=_BATCH.value,
            max_seq_length=_MAX_SEQ.value,
        )

    def sentence_transformers(texts=sentences):
        return st.encode(
            texts, batch_size=_BATCH.value, convert_to_numpy=True, show_progress_bar=False
        )

    # Warm-up on every 8th sentence (all lengths, so every code path runs once),
    # then the agreement check on the results of the first timed runs.
    ours(sentences[::8])
    sentence_transformers(sentences[::8])
    outputs = {}

    def timed(name, fn):
        def run():
            outputs[name] = fn()

        return run

    timings = harness.measure_interleaved(
        {"ours": timed("ours", ours), "st": timed("st", sentence_transformers)},
        warmup=0,
        repeats=_REPEATS.value,
        budget_s=0.0,
    )
    a, b = outputs["ours"], outputs["st"]
    cosine = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    row = {
        "sentences": len(sentences),
        "mean_words": float(np.mean([len(s.split()) for s in sentences])),
        "batch_size": _BATCH.value,
        "max_seq_length": _MAX_SEQ.value,
        "min_cosine": float(cosine.min()),
    }
    for key, timing in timings.items():
        row[f"{key}_sentences_per_s"] = timing.per_second(len(sentences))
        row[f"{key}_timing"] = timing.to_dict()
    row["ratio_vs_st"] = row["ours_sentences_per_s"] / row["st_sentences_per_s"]
    run.add(row)
    run.finish(COLUMNS, title="End to end: sentences -> mean-pooled embeddings (sentences/s)")


if __name__ == "__main__":
    app.run(main)
