r"""bert-tf-embed: one sentence vector per line of a text file, from an exported pair.

Reads INPUT (UTF-8 text, one text per line; or JSON lines with --json_field),
runs the export's preprocessing model and encoder, pools each text into one
vector and writes OUTPUT, a float32 `.npy` of shape `[lines, hidden]`: row `i`
is line `i` of INPUT (a blank line is the empty text, so rows and lines always
line up). Load it with `numpy.load(OUTPUT)`, or `numpy.load(OUTPUT,
mmap_mode="r")` when it is large.

Examples:

  # Export the model once (see bert-tf-export --help), then embed:
  bert-tf-export --checkpoint=path/to/all-MiniLM-L6-v2 --output_dir=exports/minilm
  bert-tf-embed --export_dir=exports/minilm --input=sentences.txt \
      --output=vectors.npy --pooling=mean --normalize

  # JSON lines: embed the "text" field of each object:
  bert-tf-embed --export_dir=exports/minilm --input=docs.jsonl --json_field=text \
      --output=docs.npy --pooling=mean --normalize --max_seq_length=256

  # A classic BERT: the [CLS] vector, or the tanh pooler's output:
  bert-tf-embed --export_dir=exports/bert_base --input=x.txt --output=x.npy --pooling=cls

Pooling: `mean` averages the last layer over each text's tokens ([CLS] and
[SEP] included, padding excluded), as sentence-transformers does for
all-MiniLM-L6-v2 and most embedding models; `cls` takes the last layer at
[CLS]; `pooled` takes the encoder's `pooled_output`. With --normalize every
vector has unit length, so a dot product is the cosine similarity.

Files of any size: a first pass counts the lines, then the file is read in
chunks (--chunk_lines), each sorted by length and embedded in batches padded
to their longest text, and written into OUTPUT in place; memory stays at one
chunk. OUTPUT appears only when complete. Progress is logged as it goes.

The same from Python: `bert_tf.embed(texts, export_dir)` for a list of
texts, `bert_tf.embed_file(input, output, export_dir)` for a file.

Errors (a missing export, an unreadable or non-UTF-8 line, a JSON line without
the field, an unwritable output) print one line `error: ...` naming the file
and line, and exit with status 1, leaving no OUTPUT.
"""

from __future__ import annotations

import sys
import time

from absl import app, flags

from export import cli

flags.DEFINE_string("export_dir", None,
                    "The export folder (holding encoder/ and preprocess/) made by "
                    "bert-tf-export.")
flags.DEFINE_string("input", None,
                    "The texts: a UTF-8 file, one text per line (or JSON lines with "
                    "--json_field).")
flags.DEFINE_string("output", None,
                    "The .npy to write: float32 [lines, hidden], row i for line i.")
flags.DEFINE_enum("pooling", "mean", ["mean", "cls", "pooled"],
                  "How a text's token vectors become one vector: mean over tokens, the "
                  "[CLS] token, or the encoder's pooled_output.")
flags.DEFINE_boolean("normalize", False, "Scale every vector to unit L2 norm.")
flags.DEFINE_integer("batch_size", 32, "Texts per encoder call.", lower_bound=1)
flags.DEFINE_integer("max_seq_length", None,
                     "Tokens per text, [CLS] and [SEP] included; longer texts are "
                     "truncated. Default: the export's default_seq_length (usually 128).",
                     lower_bound=2)
flags.DEFINE_string("json_field", None,
                    "Read INPUT as JSON lines and embed this field of each object.")
flags.DEFINE_integer("chunk_lines", 8192,
                     "Lines read, sorted by length and embedded at a time (memory bound).",
                     lower_bound=1)

FLAGS = flags.FLAGS


class _Progress:
    """Logs `done/total lines` at most every `every_s` seconds, and at the end."""

    def __init__(self, every_s: float = 5.0):
        self.every_s = every_s
        self.started = time.perf_counter()
        self.last = self.started

    def __call__(self, done: int, total: int) -> None:
        from absl import logging

        now = time.perf_counter()
        if done < total and now - self.last < self.every_s:
            return
        self.last = now
        rate = done / max(now - self.started, 1e-9)
        logging.info("embedded %d/%d lines (%.0f%%, %.0f lines/s)",
                     done, total, 100.0 * done / total, rate)


def main(argv) -> int:
    """Embeds with the parsed flags; raises on failure (see `cli.guarded`)."""
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    missing = [name for name in ("export_dir", "input", "output") if not FLAGS[name].value]
    if missing:
        raise app.UsageError(
            "missing " + " and ".join(f"--{name}" for name in missing) + " (see --help)")
    from bert_tf import embedding

    result = embedding.embed_file(
        FLAGS.input, FLAGS.output, FLAGS.export_dir, pooling=FLAGS.pooling,
        normalize=FLAGS.normalize, batch_size=FLAGS.batch_size,
        max_seq_length=FLAGS.max_seq_length, json_field=FLAGS.json_field,
        chunk_lines=FLAGS.chunk_lines, progress=_Progress())
    print(f"Wrote {result.count} x {result.dim} float32 vectors to {result.output} "
          f"in {result.seconds:.1f} s")
    return 0


def _main(argv) -> None:
    sys.exit(cli.guarded(main, argv))


def run() -> None:
    """The `bert-tf-embed` console script."""
    cli.quiet_tensorflow()
    cli.run_app(_main)


if __name__ == "__main__":
    run()
