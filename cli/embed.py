r"""One sentence vector per line of a text file, from an export folder.

Reads INPUT (UTF-8 text, one text per line; or JSON lines with --json_field),
runs the export's preprocessing model and encoder, turns each text into one
vector with the export's own pooling stack (the sentence-transformers
pooling, Dense layers, Normalize and prompts it was exported with) and writes
OUTPUT, a float32 `.npy` of shape `[lines, hidden]`: row `i`
is line `i` of INPUT (a blank line is the empty text, so rows and lines always
line up). Load it with `numpy.load(OUTPUT)`, or `numpy.load(OUTPUT,
mmap_mode="r")` when it is large.

Examples:

  # Export the model once (see bert-tf-export --help), then embed:
  bert-tf-export --checkpoint=path/to/all-MiniLM-L6-v2 --output_dir=exports/minilm
  bert-tf-embed --export_dir=exports/minilm --input=sentences.txt --output=vectors.npy

  # An E5-style model: embed queries with its "query: " prompt:
  bert-tf-embed --export_dir=exports/e5 --input=queries.txt --output=q.npy --prompt_name=query

  # JSON lines: embed the "text" field of each object:
  bert-tf-embed --export_dir=exports/minilm --input=docs.jsonl --json_field=text \
      --output=docs.npy --pooling=mean --normalize --max_seq_length=256

  # A classic BERT: the [CLS] vector, or the tanh pooler's output:
  bert-tf-embed --export_dir=exports/bert_base --input=x.txt --output=x.npy --pooling=cls

Pooling: by default the export's own stack (see its README.md); --pooling
overrides it: `mean` averages the last layer over each text's tokens ([CLS]
and [SEP] included, padding excluded), `cls` takes the last layer at [CLS],
`max`, `mean_sqrt_len_tokens`, `weightedmean` and `lasttoken` are
sentence-transformers' other modes, `pooled` takes the encoder's
`pooled_output`. With --normalize every vector has unit length, so a dot
product is the cosine similarity.

Files of any size: a first pass counts the lines, then the file is read in
chunks (--chunk_lines), each sorted by length and embedded in batches padded
to their longest text, and written into OUTPUT in place; memory stays at one
chunk. OUTPUT appears only when complete. Progress is logged as it goes.

The same from Python: bert_tf.embed(texts, export_dir) for a list of
texts, bert_tf.embed_file(input, output, export_dir) for a file.

Errors (a missing export, an unreadable or non-UTF-8 line, a JSON line without
the field, an unwritable output) print one line `error: ...` naming the file
and line, and exit with status 1, leaving no OUTPUT.

A corpus on Apache Beam (pip install "bert-tf[beam]"): with --runner, INPUT is
a glob of text or JSON-lines files (local, gs://, s3://, hdfs://; .gz and .bz2
too), read in parallel, and OUTPUT a prefix: Parquet shards
OUTPUT-00000-of-000NN.parquet with columns source (the file), line (0-based),
embedding (list<float32>) and, with --keep_text, text. The vectors are the
in-process path's. Flags this command does not know are Beam pipeline options
(--direct_num_workers=2, --project=..., --flink_master=...). A bad line fails
the pipeline with the same one-line error and no shards; with --skip_bad_lines
it goes to OUTPUT-bad_lines-00000-of-000NN.jsonl (source, line, error) and is
counted. Running on Dataflow, Flink or Spark: docs/embedding.md.

  bert-tf-embed --runner=DirectRunner --export_dir=exports/minilm \
      --input='corpus/*.jsonl' --json_field=text --output=out/vectors \
      --direct_num_workers=2 --direct_running_mode=multi_processing
"""

from __future__ import annotations

from bert_tf.cli.command import Command, Flag, UsageError, quiet_stderr
from bert_tf.embedding.options import POOLINGS, RUNNERS, EmbedOptions

FLAGS = (
    Flag(
        "export_dir",
        str,
        "The export folder (holding encoder/ and preprocess/) made by bert-tf-export.",
        required=True,
    ),
    Flag(
        "input",
        str,
        "The texts: a UTF-8 file, one text per line (or JSON lines with --json_field); with "
        "--runner: a glob of such files.",
        required=True,
    ),
    Flag(
        "output",
        str,
        "The .npy to write: float32 [lines, hidden], row i for line i; with --runner: the "
        "prefix of the Parquet shards.",
        required=True,
    ),
    Flag(
        "pooling",
        "enum",
        "Override the export's pooling stack: how a text's token vectors become one vector "
        "(sentence-transformers' modes, or the encoder's pooled_output); the stack's Dense "
        "layers are dropped. Default: the export's own stack (else mean).",
        choices=POOLINGS,
    ),
    Flag(
        "normalize",
        bool,
        "Override the stack's Normalize: scale every vector to unit L2 norm (or not, with "
        "--nonormalize). Default: as the export's stack says (else no).",
    ),
    Flag(
        "prompt_name",
        str,
        "Prepend the export's prompt of this name (for example query or passage); default: "
        "its default prompt, if any.",
    ),
    Flag("batch_size", int, "Texts per encoder call.", lower_bound=1),
    Flag(
        "max_seq_length",
        int,
        "Tokens per text, [CLS] and [SEP] included; longer texts are truncated. Default: "
        "the export's default_seq_length (usually 128).",
        lower_bound=2,
    ),
    Flag("json_field", str, "Read INPUT as JSON lines and embed this field of each object."),
    Flag(
        "chunk_lines",
        int,
        "Lines read, sorted by length and embedded at a time (memory bound).",
        lower_bound=1,
    ),
    Flag(
        "runner",
        "enum",
        "Run as an Apache Beam pipeline on this runner (needs bert-tf[beam]); unknown flags "
        "become Beam pipeline options. Default: embed in this process.",
        choices=RUNNERS,
    ),
    Flag("keep_text", bool, "With --runner: add a text column to the shards.", default=False),
    Flag(
        "skip_bad_lines",
        bool,
        "With --runner: write bad lines to OUTPUT-bad_lines-*.jsonl and count them instead of "
        "failing.",
        default=False,
    ),
    Flag(
        "num_shards",
        int,
        "With --runner: Parquet shards to write; 0: the runner decides.",
        default=0,
        lower_bound=0,
    ),
)
_BEAM_ONLY = ("keep_text", "skip_bad_lines", "num_shards")


# The options both paths (in-process and Beam) take, by flag name.
_EMBED_OPTIONS = (
    "pooling",
    "normalize",
    "prompt_name",
    "batch_size",
    "max_seq_length",
    "json_field",
    "chunk_lines",
)


def _embed_options(args) -> dict:
    return {name: getattr(args, name) for name in _EMBED_OPTIONS}


def main(args) -> int:
    if args.runner is not None:
        return _beam_main(args)
    given = [f"--{name}" for name in _BEAM_ONLY if getattr(args, name)]
    if given:
        raise UsageError(f"{' and '.join(given)} need{'s' if len(given) == 1 else ''} --runner")
    from bert_tf.embedding import LogProgress, embed_file

    result = embed_file(
        args.input,
        args.output,
        args.export_dir,
        **_embed_options(args),
        progress=LogProgress(),
    )
    print(
        f"Wrote {result.count} x {result.dim} float32 vectors to {result.output} "
        f"in {result.seconds:.1f} s"
    )
    return 0


def _beam_main(args) -> int:
    import contextlib

    from absl import logging

    try:
        from bert_tf.embedding.beam import embed_corpus
    except ImportError as error:
        raise UsageError(
            f"--runner needs Apache Beam ({error.name} is missing): pip install 'bert-tf[beam]'"
        ) from None
    # Beam's worker processes log to the terminal from their start, before any
    # option reaches them: below --verbosity=1 their stderr is kept aside.
    quiet = quiet_stderr() if logging.get_verbosity() < 1 else contextlib.nullcontext()
    with quiet:
        result = embed_corpus(
            args.input,
            args.output,
            args.export_dir,
            runner=args.runner,
            pipeline_args=args.extra_args,
            **_embed_options(args),
            keep_text=args.keep_text,
            skip_bad_lines=args.skip_bad_lines,
            num_shards=args.num_shards,
        )
    print(
        f"Wrote {result.count} float32 vectors to {len(result.shards)} Parquet "
        f"shard{'s' if len(result.shards) != 1 else ''} {args.output}-*.parquet "
        f"in {result.seconds:.1f} s"
    )
    if args.skip_bad_lines:
        where = f": {', '.join(result.dead_letter)}" if result.dead_letter else ""
        print(f"Skipped {result.bad_lines} bad lines{where}")
    return 0


COMMAND = Command(
    "bert-tf-embed",
    __doc__,
    main,
    flags=FLAGS,
    defaults=EmbedOptions,
    interrupted="interrupted: no output was written",
    passthrough_flag="runner",
    passthrough_usage="[Apache Beam pipeline options, with --runner]",
)
run = COMMAND.run

if __name__ == "__main__":
    run()
