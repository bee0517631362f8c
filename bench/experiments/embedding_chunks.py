"""`embedding/` inside one call: padded tokens per encoder run after sorting by length.

Builds `EmbeddingModel`s over the MiniLM export's own encoder, preprocessing and
stack with different `chunk_tokens` and times them interleaved on consecutive
batches of the benchmark corpus (what a server receives), vectors checked
against the last variant (by default a budget no call reaches: one sorted,
unchunked batch, what the export did before chunking).

Run:
  .venv/bin/python -m bench.experiments.embedding_chunks --lines=1000
"""

from __future__ import annotations

from bench import harness

harness.quiet_environment()

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from bench import corpus, models  # noqa: E402

_LINES = flags.DEFINE_integer("lines", 1000, "Corpus lines per timed run.")
_BATCH = flags.DEFINE_integer("batch_size", 32, "Texts per call.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed runs per variant.")
_CHUNKS = flags.DEFINE_list("chunk_tokens", ["256", "512", "1024", "2048", "100000"], "Variants.")


def main(argv) -> None:
    del argv
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tf-text ops)

    from bert_tf import interface
    from bert_tf.checkpoints.sentence_transformers import PoolingStack
    from bert_tf.embedding.pooling import EmbeddingHead
    from bert_tf.embedding.saved_embedding import EmbeddingModel

    export = models.export_dir("minilm")
    layout = interface.ExportLayout(export)
    preprocess = tf.saved_model.load(str(layout.preprocess_dir))
    encoder = tf.saved_model.load(str(layout.encoder_dir))
    stack = PoolingStack.from_dict(interface.read_metadata(export).embedding)
    special = {k: int(v) for k, v in preprocess.tokenize.get_special_tokens_dict().items()}
    head = EmbeddingHead(stack)  # MiniLM's stack has no Dense layers
    lines = corpus.sentences(_LINES.value)
    batch = _BATCH.value

    def variant(tokens: int):
        model = EmbeddingModel(
            preprocess.tokenize, special, encoder, head, stack.max_seq_length, chunk_tokens=tokens
        )

        def run():
            parts = [model(tf.constant(lines[i : i + batch])) for i in range(0, len(lines), batch)]
            return np.concatenate([p.numpy() for p in parts])

        return run

    runs = {f"chunk_tokens={n}": variant(int(n)) for n in _CHUNKS.value}
    outputs = {name: run() for name, run in runs.items()}  # warm-up and vectors
    reference = outputs[f"chunk_tokens={_CHUNKS.value[-1]}"]
    timings = harness.measure_interleaved(runs, warmup=0, repeats=_REPEATS.value, budget_s=0.0)
    for name, timing in timings.items():
        diff = float(np.max(np.abs(outputs[name] - reference)))
        print(f"{name:16s} {timing.per_second(len(lines)):8.1f} lines/s  max|diff| {diff:.2e}")


if __name__ == "__main__":
    app.run(main)
