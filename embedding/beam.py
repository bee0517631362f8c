"""Corpus embedding on Apache Beam: text or JSON-lines files in, Parquet shards out.

`embed_corpus(input_patterns, output_prefix, export_dir, runner=...)` runs one
Beam pipeline, the same on the DirectRunner here and on Dataflow, Flink or
Spark:

1. `fileio.MatchFiles` + `ReadMatches` find the files (any glob, any Beam
   filesystem; `.gz` / `.bz2` decompressed by extension); `_ReadLines` reads
   each file as a stream and yields `((source, line), text)` per line, with
   `line` its exact 0-based number (a whole file per element is what makes
   the numbers exact without a pass over the file's earlier splits);
2. a `Reshuffle` spreads the lines of big files over every worker;
3. `RunInference` with `EmbeddingModelHandler`: the export is loaded once per
   worker process (RunInference's shared handle and `load()`'s cache), lines
   are batched within a bundle up to `chunk_lines`, and each batch goes
   through `Embedder.embed`: sorted by length, embedded `batch_size` at a
   time, padded to each batch's longest text, the export's own pooling
   stack. The vectors are those of `bert_tf.embed` / `bert-tf-embed`;
4. `WriteToParquet` writes `PREFIX-00000-of-000NN.parquet`: columns `source`,
   `line`, `embedding` (list<float32>) and, with `keep_text`, `text`.

Bad input (a line not UTF-8, not JSON, without the field; a file that cannot
be read) fails the pipeline with the one line `bert-tf-embed` prints, naming
the file and line; with `skip_bad_lines` it goes to the dead-letter output
`PREFIX-bad_lines-00000-of-000NN.jsonl` instead and is counted.

Example:

    from bert_tf.embedding.beam import embed_corpus
    result = embed_corpus(["corpus/*.txt"], "out/vectors", "exports/all-MiniLM-L6-v2",
                          runner="DirectRunner",
                          pipeline_args=["--direct_num_workers=2",
                                         "--direct_running_mode=multi_processing"])
    result.shards  # ['out/vectors-00000-of-00002.parquet', ...]
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import glob
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.ml.inference.base import (
    KeyedModelHandler,
    ModelHandler,
    PredictionResult,
    RunInference,
)
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions

from bert_tf.embedding.options import DEFAULTS, RUNNERS, EmbedError

METRICS_NAMESPACE = "bert_tf_embedding"
BAD_LINES = "bad_lines"
LINES_READ = "lines_read"
SHARD_TEMPLATE = "-SSSSS-of-NNNNN"
SUFFIX = ".parquet"
DEAD_LETTER = "-bad_lines"
DEAD_LETTER_SUFFIX = ".jsonl"


def parquet_schema(keep_text: bool):
    """The shards' Arrow schema: source, line, embedding (and text)."""
    import pyarrow as pa

    fields = [
        ("source", pa.string()),
        ("line", pa.int64()),
        ("embedding", pa.list_(pa.float32())),
    ]
    if keep_text:
        fields.append(("text", pa.string()))
    return pa.schema(fields)


# --- Reading ----------------------------------------------------------------------


class _ReadLines(beam.DoFn):
    """A matched file -> `((source, line), text)` per line (0-based `line`).

    A bad line raises `EmbedError` (file and 1-based line in the message, as
    `bert-tf-embed` says it) or, with `skip_bad_lines`, goes to the `bad`
    output as `{"source", "line", "error"}` and is counted.
    """

    BAD = "bad"

    def __init__(self, json_field: str | None, skip_bad_lines: bool):
        self.json_field = json_field
        self.skip_bad_lines = skip_bad_lines
        self.bad_lines = Metrics.counter(METRICS_NAMESPACE, BAD_LINES)
        self.lines_read = Metrics.counter(METRICS_NAMESPACE, LINES_READ)

    def process(self, readable: fileio.ReadableFile) -> Iterator[Any]:
        from bert_tf.embedding.files import parse_line

        source = readable.metadata.path
        index = 0
        try:
            stream = readable.open(compression_type=CompressionTypes.AUTO)
            # readline, not iteration: Beam's compressed streams are not iterators.
            with stream:
                for raw in iter(stream.readline, b""):
                    try:
                        text = parse_line(raw, self.json_field, source, index + 1)
                    except EmbedError as error:
                        yield from self._bad(source, index, str(error))
                    else:
                        self.lines_read.inc()
                        yield (source, index), text
                    index += 1
        except EmbedError:
            raise
        except Exception as error:  # zlib, EOF, OS errors: the file is unreadable from here.
            reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
            yield from self._bad(source, index, f"input {source}: cannot read ({reason})")

    def _bad(self, source: str, index: int, message: str) -> Iterator[Any]:
        if not self.skip_bad_lines:
            raise EmbedError(message)
        self.bad_lines.inc()
        yield beam.pvalue.TaggedOutput(
            self.BAD, json.dumps({"source": source, "line": index, "error": message})
        )


# --- The model ----------------------------------------------------------------------


def _gfile():
    """`tf.io.gfile`, with tensorflow-io's filesystems (`s3://`, `hdfs://`) when installed."""
    import tensorflow as tf

    try:
        import tensorflow_io  # noqa: F401  (registers s3://, hdfs://, az://)
    except ImportError:
        pass
    return tf.io.gfile


def _remote_error(export_dir: str, error: Exception) -> EmbedError:
    reason = getattr(error, "message", None) or str(error)
    return EmbedError(
        f"export_dir {export_dir}: cannot read ({reason.splitlines()[0]}); gs:// is built "
        "into TensorFlow, s3:// and hdfs:// need tensorflow-io on every worker"
    )


@functools.lru_cache(maxsize=4)
def _staged_export(export_dir: str) -> str:
    """A local folder holding `export_dir`: itself, or a copy of a remote one.

    TensorFlow reads `gs://` (and, with tensorflow-io, `s3://`, `hdfs://`)
    through `tf.io.gfile`; the export is copied once per worker process into a
    temporary folder (removed at exit), so that every check and load reads
    local files.
    """
    if "://" not in export_dir:
        return export_dir
    gfile = _gfile()
    local = tempfile.mkdtemp(prefix="bert_tf_export_")
    atexit.register(shutil.rmtree, local, ignore_errors=True)
    root = export_dir.rstrip("/")
    try:
        # exists() raises for a scheme TensorFlow lacks; isdir() would say False.
        if not gfile.exists(root) or not gfile.isdir(root):
            raise EmbedError(f"export_dir {export_dir}: not found")
        for folder, _, files in gfile.walk(root):
            relative = folder[len(root) :].strip("/")
            target = os.path.join(local, relative)
            os.makedirs(target, exist_ok=True)
            for name in files:
                gfile.copy(f"{folder.rstrip('/')}/{name}", os.path.join(target, name))
    except EmbedError:
        raise
    except Exception as error:  # tf.errors.OpError: unknown scheme, no access, ...
        raise _remote_error(export_dir, error) from None
    return local


class EmbeddingModelHandler(ModelHandler[str, PredictionResult, Any]):
    """RunInference over an export: texts in, `PredictionResult(text, float32 [dim])` out.

    Wrap it in `KeyedModelHandler` to carry keys (`embed_corpus` does).

    Args:
      export_dir: the export folder, local or a `tf.io.gfile` URL (`gs://...`).
      pooling, normalize, prompt_name, batch_size, max_seq_length: as for
        `bert_tf.embed`.
      chunk_lines: the most lines RunInference batches (within a bundle) per
        call; `Embedder.embed` sorts them by length and embeds them
        `batch_size` at a time.
      large_model: Beam's option: one copy of the model per machine, shared by
        its worker processes (`share_model_across_processes`), for exports
        too big to load once per process.
      intra_op_threads: TensorFlow's threads per op in each worker process
        (None: TensorFlow's default, every core). Several worker processes on
        one machine each use every core by default and slow each other down.
    """

    def __init__(
        self,
        export_dir: str | os.PathLike,
        *,
        pooling: str | None = DEFAULTS.pooling,
        normalize: bool | None = DEFAULTS.normalize,
        prompt_name: str | None = DEFAULTS.prompt_name,
        batch_size: int = DEFAULTS.batch_size,
        max_seq_length: int | None = DEFAULTS.max_seq_length,
        chunk_lines: int = DEFAULTS.chunk_lines,
        large_model: bool = False,
        intra_op_threads: int | None = None,
    ):
        super().__init__(min_batch_size=1, max_batch_size=chunk_lines, large_model=large_model)
        self.export_dir = os.fspath(export_dir)
        self.options = dict(
            pooling=pooling,
            normalize=normalize,
            prompt_name=prompt_name,
            batch_size=batch_size,
            max_seq_length=max_seq_length,
        )
        self.chunk_lines = chunk_lines
        self.intra_op_threads = intra_op_threads

    def batch_elements_kwargs(self):
        # Fixed-size chunks, as the in-process path reads them: BatchElements'
        # adaptive sizes would start at one line and sort nothing.
        return {"min_batch_size": self.chunk_lines, "max_batch_size": self.chunk_lines}

    def load_model(self):
        import tensorflow as tf

        from bert_tf.embedding.embedder import load

        if self.intra_op_threads:
            try:
                tf.config.threading.set_intra_op_parallelism_threads(self.intra_op_threads)
            except RuntimeError:  # TensorFlow already runs in this process (in-memory runner)
                pass
        return load(_staged_export(self.export_dir))

    def run_inference(
        self, batch: Sequence[str], model, inference_args: dict | None = None
    ) -> Iterable[PredictionResult]:
        vectors = model.embed(list(batch), **self.options)
        return [PredictionResult(text, vector) for text, vector in zip(batch, vectors)]

    def get_num_bytes(self, batch: Sequence[str]) -> int:
        return sum(len(text.encode("utf-8")) for text in batch)

    def get_metrics_namespace(self) -> str:
        return METRICS_NAMESPACE


def _row(keyed: tuple[tuple[str, int], PredictionResult], keep_text: bool) -> dict[str, Any]:
    (source, line), result = keyed
    row = {"source": source, "line": line, "embedding": result.inference}
    if keep_text:
        row["text"] = result.example
    return row


# --- The pipeline -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CorpusResult:
    """What `embed_corpus` wrote.

    Attributes:
        shards: the Parquet files, sorted.
        count: vectors written (lines embedded).
        bad_lines: lines (and unreadable files) sent to the dead-letter output.
        dead_letter: its files (none when nothing was skipped), sorted.
        seconds: the pipeline's wall time.
    """

    shards: tuple[str, ...]
    count: int
    bad_lines: int
    dead_letter: tuple[str, ...]
    seconds: float


def pipeline_options(pipeline_args: Sequence[str] = ()) -> PipelineOptions:
    """Beam's options from `pipeline_args`; an argument Beam does not know is an error.

    Beam itself only logs a warning and drops it, so a misspelled flag would
    be lost silently.

    Raises:
      EmbedError: an argument is not an option of any Beam runner.
    """
    options = PipelineOptions(list(pipeline_args))
    known = options.get_all_options(retain_unknown_options=False)
    every = options.get_all_options(retain_unknown_options=True)
    unknown = sorted(set(every) - set(known))
    if unknown:
        raise EmbedError(
            f"unknown flag --{unknown[0]}: neither bert-tf-embed's nor an Apache Beam "
            "pipeline option"
        )
    return options


def _runner(name: str, options: PipelineOptions):
    """The runner for `name`.

    DirectRunner: Beam's FnApiRunner, the batch engine of the Python
    DirectRunner, which honours `--direct_num_workers` and
    `--direct_running_mode`; Beam 2.77's DirectRunner would first try
    PrismRunner (a Go binary it downloads), where those options do nothing.
    The options reach its workers as the DirectRunner sends them.
    """
    if name not in RUNNERS:
        raise EmbedError(f"runner: expected one of {', '.join(RUNNERS)}, found {name!r}")
    if name != "DirectRunner":
        return name
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.portable_runner import JobServiceHandle

    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    info = beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded)
    return fn_runner.FnApiRunner(provision_info=fn_runner.ExtendedProvisionInfo(info))


def _threads_per_worker(runner: str, options: PipelineOptions) -> int | None:
    """TensorFlow threads per worker process when the DirectRunner starts several here."""
    direct = options.view_as(DirectOptions)
    if runner != "DirectRunner" or direct.direct_running_mode != "multi_processing":
        return None
    cores = os.cpu_count() or 1
    return max(1, cores // (direct.direct_num_workers or cores))


def _check_inputs(input_patterns: Sequence[str]) -> None:
    for pattern in input_patterns:
        try:
            matched = FileSystems.match([pattern])[0].metadata_list
        except Exception as error:  # Beam raises BeamIOError for unknown schemes, bad globs.
            raise EmbedError(f"input {pattern}: cannot list ({_first_line(error)})") from None
        if not matched:
            raise EmbedError(f"input {pattern}: no such file (nothing matches)")


def _check_model(export_dir: str, options: dict[str, Any]) -> None:
    """Fails before the pipeline starts on a bad export or option (local exports)."""
    if "://" in export_dir:
        try:
            found = _gfile().exists(f"{export_dir.rstrip('/')}/encoder/saved_model.pb")
        except Exception as error:  # tf.errors.OpError
            raise _remote_error(export_dir, error) from None
        if not found:
            raise EmbedError(
                f"export_dir {export_dir}: not a bert-tf export (no encoder/saved_model.pb)"
            )
        return
    from bert_tf.embedding.embedder import load

    embedder = load(export_dir)
    embedder.check_seq_length(options["max_seq_length"])
    embedder.prompt(options["prompt_name"])


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# `EmbedError: MESSAGE [while running 'STEP']`, as a worker's traceback ends.
_WORKER_ERROR = re.compile(r"EmbedError: (.+?)(?: \[while running '[^']*'\])*\s*$", re.M)


def _worker_error(error: BaseException) -> EmbedError | None:
    """The `EmbedError` a worker raised, from the runner's exception (a copy or its text)."""
    seen = error
    while seen is not None:
        if isinstance(seen, EmbedError):
            match = _WORKER_ERROR.search(f"EmbedError: {_first_line(seen)}")
            return EmbedError(match.group(1) if match else _first_line(seen))
        seen = seen.__cause__ or seen.__context__
    matches = _WORKER_ERROR.findall(str(error))
    return EmbedError(matches[-1]) if matches else None


def _temp_paths(prefix: str) -> set[str]:
    """Beam's temporary folders for sinks writing to `prefix*` (`beam-temp-NAME-UUID`).

    Local: the folders. Object stores have no folders: the files in them.
    """
    folder, name = FileSystems.split(prefix)
    if "://" not in prefix:
        pattern = os.path.join(glob.escape(folder or "."), f"beam-temp-{glob.escape(name)}-*")
        return set(glob.glob(pattern))
    try:
        pattern = FileSystems.join(folder, f"beam-temp-{name}-*/*")
        return {m.path for m in FileSystems.match([pattern])[0].metadata_list}
    except Exception:  # nothing to list
        return set()


def _remove_temp_paths(prefix: str, before: set[str]) -> None:
    """Removes what a failed run left in Beam's temporary folders (its shards never got names)."""
    for path in sorted(_temp_paths(prefix) - before):
        try:
            FileSystems.delete([path])
        except Exception:  # gone already
            pass


def _matches(pattern: str) -> tuple[str, ...]:
    try:
        found = FileSystems.match([pattern])[0].metadata_list
    except Exception:  # Beam: a folder that does not exist matches nothing, or raises.
        return ()
    return tuple(sorted(m.path for m in found))


def embed_corpus(
    input_patterns: str | Sequence[str],
    output_prefix: str,
    export_dir: str | os.PathLike,
    *,
    runner: str = "DirectRunner",
    pipeline_args: Sequence[str] = (),
    pooling: str | None = DEFAULTS.pooling,
    normalize: bool | None = DEFAULTS.normalize,
    prompt_name: str | None = DEFAULTS.prompt_name,
    batch_size: int = DEFAULTS.batch_size,
    max_seq_length: int | None = DEFAULTS.max_seq_length,
    json_field: str | None = DEFAULTS.json_field,
    chunk_lines: int = DEFAULTS.chunk_lines,
    keep_text: bool = False,
    skip_bad_lines: bool = False,
    num_shards: int = 0,
) -> CorpusResult:
    """Embeds every line of the matched files into Parquet shards, on a Beam runner.

    Args:
      input_patterns: globs of UTF-8 text files (one text per line) or JSON
        lines (`json_field`), on any Beam filesystem (local, `gs://`, `s3://`,
        `hdfs://`); `.gz` and `.bz2` files are decompressed.
      output_prefix: the shards are `PREFIX-00000-of-000NN.parquet`.
      export_dir: the export folder; a local path or a `tf.io.gfile` URL the
        workers can read.
      runner: one of `RUNNERS`.
      pipeline_args: Beam pipeline options (`--project=...`, `--direct_num_workers=2`).
      pooling, normalize, prompt_name, batch_size, max_seq_length, json_field,
        chunk_lines: as for `embed_file`.
      keep_text: add the text as a `text` column.
      skip_bad_lines: write bad lines to `PREFIX-bad_lines-*.jsonl` and count
        them, instead of failing.
      num_shards: output shards; 0: the runner decides.

    Returns:
      `CorpusResult`.

    Raises:
      EmbedError: a bad argument, export or input, or (without
        `skip_bad_lines`) a bad line, in one line naming the file and line; no
        shard is written then.
    """
    from bert_tf.embedding.embedder import _check_options

    started = time.perf_counter()
    patterns = [input_patterns] if isinstance(input_patterns, str) else list(input_patterns)
    if not patterns:
        raise EmbedError("input: expected at least one file pattern")
    _check_options(pooling, batch_size)
    if isinstance(chunk_lines, bool) or not isinstance(chunk_lines, int) or chunk_lines < 1:
        raise EmbedError(f"chunk_lines: expected an int >= 1, found {chunk_lines!r}")
    if isinstance(num_shards, bool) or not isinstance(num_shards, int) or num_shards < 0:
        raise EmbedError(f"num_shards: expected an int >= 0, found {num_shards!r}")
    output_prefix = os.fspath(output_prefix)
    folder, name = FileSystems.split(output_prefix)
    if not name:
        raise EmbedError(f"output {output_prefix}: expected a file name prefix, not a folder")
    if "://" not in output_prefix and not os.path.isdir(folder or "."):
        raise EmbedError(f"output {output_prefix}: folder {folder} does not exist")
    export_dir = os.fspath(export_dir)
    model_options = dict(
        pooling=pooling,
        normalize=normalize,
        prompt_name=prompt_name,
        batch_size=batch_size,
        max_seq_length=max_seq_length,
    )
    options = pipeline_options(pipeline_args)
    beam_runner = _runner(runner, options)
    dead_letter_prefix = output_prefix + DEAD_LETTER
    earlier = _matches(f"{output_prefix}-*-of-*{SUFFIX}") + _matches(
        f"{dead_letter_prefix}-*-of-*{DEAD_LETTER_SUFFIX}"
    )
    if earlier:
        # Shards of another count would stay beside the new ones, and readers
        # of PREFIX-*.parquet would see their rows twice.
        raise EmbedError(
            f"output {output_prefix}: {earlier[0]} exists (an earlier run's); remove "
            f"{output_prefix}-* or choose another output prefix"
        )
    _check_inputs(patterns)
    _check_model(export_dir, model_options)

    handler = KeyedModelHandler(
        EmbeddingModelHandler(
            export_dir,
            chunk_lines=chunk_lines,
            intra_op_threads=_threads_per_worker(runner, options),
            **model_options,
        )
    )
    before = _temp_paths(output_prefix)
    pipeline = beam.Pipeline(runner=beam_runner, options=options)
    lines = (
        pipeline
        | "Patterns" >> beam.Create(patterns)
        | "Match" >> fileio.MatchAll(fileio.EmptyMatchTreatment.DISALLOW)
        | "Open" >> fileio.ReadMatches()
        | "ReadLines"
        >> beam.ParDo(_ReadLines(json_field, skip_bad_lines)).with_outputs(
            _ReadLines.BAD, main="lines"
        )
    )
    _ = (
        lines.lines
        | "Spread" >> beam.Reshuffle()
        | "Embed" >> RunInference(handler)
        | "Rows" >> beam.Map(_row, keep_text)
        | "Write"
        >> beam.io.WriteToParquet(
            output_prefix,
            parquet_schema(keep_text),
            file_name_suffix=SUFFIX,
            num_shards=num_shards,
            shard_name_template=SHARD_TEMPLATE,
            # list<element: float>, the Parquet spec's LIST, as BigQuery and Spark read it.
            use_compliant_nested_type=True,
        )
    )
    if skip_bad_lines:
        _ = lines[_ReadLines.BAD] | "WriteBadLines" >> beam.io.WriteToText(
            dead_letter_prefix,
            file_name_suffix=DEAD_LETTER_SUFFIX,
            shard_name_template=SHARD_TEMPLATE,
            skip_if_empty=True,
        )
    try:
        result = pipeline.run()
        result.wait_until_finish()
    except Exception as error:
        _remove_temp_paths(output_prefix, before)
        worker_error = _worker_error(error)
        if worker_error is None:
            raise
        raise worker_error from None
    metrics = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))
    counts: dict[str, int] = {}
    for counter in metrics["counters"]:
        name = counter.key.metric.name
        counts[name] = counts.get(name, 0) + (counter.committed or 0)
    return CorpusResult(
        shards=_matches(f"{output_prefix}-*-of-*{SUFFIX}"),
        count=int(counts.get(LINES_READ, 0)),
        bad_lines=int(counts.get(BAD_LINES, 0)),
        dead_letter=_matches(f"{dead_letter_prefix}-*-of-*{DEAD_LETTER_SUFFIX}")
        if skip_bad_lines
        else (),
        seconds=time.perf_counter() - started,
    )
