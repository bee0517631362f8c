"""Sentence embeddings from an export folder: texts in, one float32 vector per text out.

- `embed(texts, export_dir, prompt_name=None, ...)` -> float32 `[len(texts), dim]`,
  with the export's own pooling stack (`bert_tf.embedding.embedder`);
- `EmbeddingHead` (`bert_tf.embedding.pooling`): pooling, Dense layers,
  Normalize in TF ops, shared with the `embedding/` SavedModel
  (`bert_tf.embedding.saved_embedding`);
- `embed_file(input, output, export_dir, ...)`: a text or JSON-lines file of
  any size -> a `.npy`, streamed (`bert_tf.embedding.files`);
- `EmbedOptions` / `DEFAULTS`: the options and their defaults
  (`bert_tf.embedding.options`);
- `bert_tf.embedding.beam.embed_corpus(patterns, output_prefix, export_dir)`:
  a corpus of files -> Parquet shards, as an Apache Beam pipeline (the
  `beam` extra; imported only from there).

Attributes load on first use (`bert_tf.lazy`).

Example:

    from bert_tf import embed
    vectors = embed(["A man is eating food.", "A man rides a horse."],
                    "exports/all-MiniLM-L6-v2")  # its modules.json: mean + Normalize
"""

from bert_tf import lazy

_EMBEDDER, _FILES, _OPTIONS = (
    "bert_tf.embedding.embedder",
    "bert_tf.embedding.files",
    "bert_tf.embedding.options",
)
__getattr__, __dir__ = lazy.exports(
    __name__,
    {
        "Embedder": _EMBEDDER,
        "embed": _EMBEDDER,
        "load": _EMBEDDER,
        "EmbeddingHead": "bert_tf.embedding.pooling",
        "EmbeddingModel": "bert_tf.embedding.saved_embedding",
        "EmbedFileResult": _FILES,
        "LogProgress": _FILES,
        "count_lines": _FILES,
        "embed_file": _FILES,
        "read_lines": _FILES,
        "DEFAULTS": _OPTIONS,
        "POOLINGS": _OPTIONS,
        "RUNNERS": _OPTIONS,
        "EmbedError": _OPTIONS,
        "EmbedOptions": _OPTIONS,
    },
)
