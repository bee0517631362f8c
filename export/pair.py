"""`export_pair()`: one checkpoint -> a verified, documented encoder + preprocessing pair.

The steps, each logged with its timing:

1. resolve the checkpoint's format, config, vocab and tokenizer settings
   (`bert_tf.export.sources`; every detected choice is logged with its reason), and
   check the vocab size against the config;
2. build the encoder without its random initialization (the checkpoint fills
   every weight; and the heads' models with `with_mlm` / `with_nsp`) and load every
   weight from the checkpoint, one tensor at a time;
3. build the preprocessing model and check its special tokens;
4. run the verification texts through the in-memory models (float32); with
   `precision="bfloat16"`, build the bfloat16 models and copy the weights in;
5. in a temporary folder beside `output_dir`: save `encoder/`,
   `preprocess/` and (with a pooling stack: a sentence-transformers
   checkpoint, or `embedding_pooling`) `embedding/`, drop the in-memory
   models, load the SavedModels back and check them
   (`bert_tf.export.verify`), write the metadata and `README.md`;
6. rename the folder into place (`bert_tf.atomic`). On any error or Ctrl-C
   nothing is left at `output_dir` (an existing export there is kept) and the
   temporary folder is removed.

>>> result = export_pair("path/to/bert_model.ckpt", "exports/bert")  # doctest: +SKIP
>>> sorted(p.name for p in result.output_dir.iterdir())  # doctest: +SKIP
['README.md', 'encoder', 'preprocess']
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import json
import os
import pathlib
import time
from collections.abc import Iterator
from typing import Any

import tensorflow as tf
from absl import logging

from bert_tf import atomic, interface
from bert_tf import precision as precisions
from bert_tf.checkpoints import load_checkpoint, open_reader
from bert_tf.checkpoints.sentence_transformers import PoolingStack
from bert_tf.config import BertConfig
from bert_tf.embedding.pooling import EmbeddingHead
from bert_tf.embedding.saved_embedding import EmbeddingModel, save_embedding
from bert_tf.encoder import build_encoder
from bert_tf.errors import BertTfError, CheckpointMismatchError
from bert_tf.export import model_card, saved_encoder, verify
from bert_tf.export.errors import ExportError
from bert_tf.export.options import ExportOptions
from bert_tf.export.sources import ExportSources, resolve_sources
from bert_tf.heads import build_mlm_model, build_nsp_model
from bert_tf.preprocess import TokenizerSettings, build_preprocess_model, load_vocab
from bert_tf.tasks import folders, heads
from bert_tf.tasks.question_answerer import Windows
from bert_tf.version import __version__


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What `export_pair` wrote.

    Attributes:
        output_dir: the export folder (`encoder/`, `preprocess/`, `README.md`).
        config: the encoder's architecture.
        settings: the tokenizer settings of `preprocess/`.
        metadata: everything the model card shows, including the verification
            figures (`metadata.verification.max_abs_diff`: endpoint -> max abs
            difference to the in-memory model).
        seconds: wall time of the export.
    """

    output_dir: pathlib.Path
    config: BertConfig
    settings: TokenizerSettings
    metadata: interface.ExportMetadata
    seconds: float

    @property
    def encoder_dir(self) -> pathlib.Path:
        return interface.ExportLayout(self.output_dir).encoder_dir

    @property
    def preprocess_dir(self) -> pathlib.Path:
        return interface.ExportLayout(self.output_dir).preprocess_dir


@contextlib.contextmanager
def _step(description: str) -> Iterator[None]:
    logging.info("%s ...", description)
    start = time.perf_counter()
    yield
    logging.info("%s: done in %.1f s", description, time.perf_counter() - start)


@contextlib.contextmanager
def _write_errors(folder: pathlib.Path) -> Iterator[None]:
    """Turns TensorFlow's file-writing errors (disk full, ...) into one-line `ExportError`s."""
    try:
        yield
    except tf.errors.OpError as error:
        message = error.message.splitlines()[0] if error.message else type(error).__name__
        if "No space left on device" in message:
            raise ExportError(f"disk full while writing {folder}: {message}") from error
        raise ExportError(f"cannot write {folder}: {message}") from error


def _sha256(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _build_preprocessor(sources: ExportSources, default_seq_length: int):
    try:
        return build_preprocess_model(
            sources.vocab_file, sources.settings, default_seq_length=default_seq_length
        )
    except BertTfError:
        raise
    except (ValueError, OSError, tf.errors.OpError) as error:
        raise ExportError(
            f"cannot build the preprocessing model from {sources.vocab_file}: "
            f"{str(error).splitlines()[0] if str(error) else error!r}"
        ) from error


def _load_weights(sources: ExportSources, encoder, mlm_model, nsp_model):
    try:
        report = load_checkpoint(sources.files, encoder, mlm_model=mlm_model, nsp_model=nsp_model)
    except CheckpointMismatchError as error:
        # Only a checkpoint that reads but does not fit says something about the preset.
        if sources.preset is not None and "preset" in sources.config_source:
            raise CheckpointMismatchError(
                f"checkpoint does not match preset {sources.preset.name}: {error}",
                report=error.report,
            ) from error
        raise
    # The load logged its summary line; the details are for --verbosity=1.
    logging.vlog(1, "Checkpoint load: %s", report.summary())
    return report


def export_pair(
    checkpoint: str | os.PathLike,
    output_dir: str | os.PathLike,
    options: ExportOptions | None = None,
    **overrides: Any,
) -> ExportResult:
    """Exports a BERT checkpoint as `output_dir/{encoder,preprocess,README.md}`.

    Args:
        checkpoint: a TF1 checkpoint prefix (`.../bert_model.ckpt`), a folder
            holding one, or a Hugging Face / sentence-transformers folder.
        output_dir: the export folder to create.
        options: how to export (`ExportOptions`; its defaults when None).
        **overrides: `ExportOptions` fields to change, for example
            `with_mlm=True` (an unknown name is a `TypeError`).

    Returns:
        An `ExportResult`.

    Raises:
        BertTfError: a one-line reason: checkpoint missing, unreadable or not
            matching the config (variable, expected and found shape); vocab size
            different from the config; `output_dir` existing without
            `overwrite` or not writable; disk full; verification failed.
            Nothing is left at `output_dir` then.
        KeyboardInterrupt: likewise, nothing is left.
    """
    start = time.perf_counter()
    options = dataclasses.replace(options or ExportOptions(), **overrides)
    final_dir = atomic.check_destination(output_dir, overwrite=options.overwrite)
    sources = _resolve(checkpoint, options)
    built = _build(sources, options)
    with atomic.atomic_directory(final_dir, overwrite=options.overwrite) as tmp:
        figures = _save_and_verify(built, tmp, sources, options)
        metadata = _metadata(final_dir, checkpoint, sources, built, figures, options, start)
        interface.write_metadata(tmp, metadata)
        model_card.write_model_card(tmp, metadata, final_dir)
    seconds = time.perf_counter() - start
    return ExportResult(
        output_dir=final_dir,
        config=sources.config,
        settings=sources.settings,
        metadata=metadata,
        seconds=seconds,
    )


def _resolve(checkpoint, options: ExportOptions) -> ExportSources:
    """The export's sources, with the vocab and sequence length checked against the config."""
    if options.precision not in precisions.PRECISIONS:
        raise ExportError(
            f"--precision: expected one of {', '.join(precisions.PRECISIONS)}, "
            f"found {options.precision!r}"
        )
    if not 2 <= options.default_seq_length:
        raise ExportError(
            f"--default_seq_length must be at least 2, got {options.default_seq_length}"
        )
    sources = resolve_sources(
        checkpoint,
        config=options.config,
        vocab_file=options.vocab_file,
        do_lower_case=options.do_lower_case,
    )
    max_positions = sources.config.max_position_embeddings
    if options.default_seq_length > max_positions:
        raise ExportError(
            f"--default_seq_length {options.default_seq_length} exceeds the "
            f"config's max_position_embeddings {max_positions}"
        )
    return sources


@dataclasses.dataclass
class _Built:
    """The in-memory models of an export and what verification compares against."""

    encoder: Any
    mlm_model: Any
    preprocessor: Any
    vocab: list[str]
    report: Any
    special: dict[str, int]
    probe: verify.Probe
    reference: dict[str, Any]
    checksums: dict[str, str]
    stack: PoolingStack | None = None
    nsp_model: Any = None
    embedding: Any = None
    embedding_reference: dict[str, Any] | None = None
    head: heads.TaskHead | None = None
    task_module: Any = None
    qa_windows: dict[str, int] | None = None


def _build(sources: ExportSources, options: ExportOptions) -> _Built:
    """Builds and loads the encoder, builds the preprocessing, runs the probe in memory."""
    config = sources.config
    vocab = load_vocab(sources.vocab_file)
    if len(vocab) != config.vocab_size:
        raise ExportError(
            f"vocab size {len(vocab)} of {sources.vocab_file} differs from the "
            f"config's vocab_size {config.vocab_size}"
        )
    with _step(
        f"Building the encoder ({config.num_layers} layers, hidden size "
        f"{config.hidden_size}) and loading {sources.files.format} weights"
    ):
        encoder, mlm_model, nsp_model = _build_models(config, options, precisions.FLOAT32)
        reader = open_reader(sources.files)
        head = _task_head(sources, options, reader.shapes())
        task_model = None
        if head is None:
            report = _load_weights(sources, encoder, mlm_model, nsp_model)
        else:
            for flag, wanted in (
                ("--with_mlm", options.with_mlm),
                ("--with_nsp", options.with_nsp),
            ):
                if wanted:
                    raise ExportError(
                        f"{flag}: the checkpoint holds a {head.task} head, not a pre-training one"
                    )
            task_model = heads.build_task_model(encoder, config, head)
            report = heads.load_task_checkpoint(
                sources.files, reader, encoder, task_model, head.task
            )
        if options.with_mlm and not report.has_mlm_head:
            raise ExportError(
                f"--with_mlm: checkpoint {sources.files.weights} has no masked-LM head weights"
            )
        if options.with_nsp and not report.has_nsp_head:
            raise ExportError(
                f"--with_nsp: checkpoint {sources.files.weights} has no next-sentence head weights"
            )
    with _step("Building the preprocessing model"):
        preprocessor = _build_preprocessor(sources, options.default_seq_length)
        special = verify.check_special_tokens(
            preprocessor.tokenize.get_special_tokens_dict(), config, vocab, sources.vocab_file
        )
    with _step("Running the verification texts in memory"):
        probe = verify.make_probe(preprocessor, options.default_seq_length)
        # Always the float32 model's outputs: a reduced-precision export is
        # verified against them (`verify.Gate`).
        reference = verify.reference_outputs(encoder, mlm_model, probe, nsp_model)
    if options.precision != precisions.FLOAT32:
        with _step(f"Building the {options.precision} encoder from the float32 weights"):
            float32_model, float32_nsp = mlm_model or encoder, nsp_model
            encoder, mlm_model, nsp_model = _build_models(config, options, options.precision)
            # Same architecture, same construction order: the same weight list.
            (mlm_model or encoder).set_weights(float32_model.get_weights())
            if nsp_model is not None:
                nsp = interface.NSP_ENDPOINT
                nsp_model.get_layer(nsp).set_weights(float32_nsp.get_layer(nsp).get_weights())
            del float32_model, float32_nsp
            gc.collect()
    with _step("Hashing the checkpoint files"):
        checksums = {
            pathlib.Path(p).name: _sha256(pathlib.Path(p)) for p in sources.files.weight_files
        }
    built = _Built(
        encoder,
        mlm_model,
        preprocessor,
        vocab,
        report,
        special,
        probe,
        reference,
        checksums,
        nsp_model=nsp_model,
    )
    if head is not None:
        # Float32, on the float32 encoder, whatever `precision` the encoder/ gets.
        built.head = head
        windows = None
        if head.task == heads.QUESTION_ANSWERER:
            windows = _qa_windows(options, config)
            built.qa_windows = dataclasses.asdict(windows)
        built.task_module = folders.build_task_module(
            head,
            preprocessor,
            task_model,
            options.default_seq_length,
            vocab,
            windows,
        )
    stack = _stack(sources, options)
    if stack is not None:
        with _step(f"Building embedding/ ({stack.describe()})"):
            built.stack = stack
            built.embedding = EmbeddingModel(
                preprocessor.tokenize,
                special,
                encoder,
                EmbeddingHead.from_stack(stack),
                max_seq_length=stack.max_seq_length,
            )
            built.embedding_reference = verify.embedding_reference(built.embedding)
    return built


def _qa_windows(options: ExportOptions, config: BertConfig) -> Windows:
    """`question_answerer/`'s windows from the `--qa_*` flags, checked against the config."""
    length = options.qa_seq_length
    if length is None:
        length = min(Windows.seq_length, config.max_position_embeddings)
        if length < Windows.seq_length:
            logging.info(
                "question_answerer/: windows of %d wordpieces (the config's "
                "max_position_embeddings; run_squad.py's default is %d)",
                length,
                Windows.seq_length,
            )
    windows = Windows(
        length, options.qa_doc_stride, options.qa_max_query_length, options.qa_max_answer_length
    )
    try:
        windows.check(config.max_position_embeddings)
    except ValueError as error:
        raise ExportError(str(error)) from None
    return windows


def _task_head(
    sources: ExportSources, options: ExportOptions, shapes: dict[str, tuple[int, ...]]
) -> heads.TaskHead | None:
    """The checkpoint's task head (loaded and written as its folder), or None.

    `shapes`: the checkpoint's variable shapes (`reader.shapes()`).
    """
    files = sources.files
    raw = {}
    if files.format == "huggingface" and files.config:
        raw = json.loads(pathlib.Path(files.config).read_text(encoding="utf-8"))
    task = heads.find_task(shapes, files.format, raw.get("architectures"), options.task)
    if task is None:
        if options.labels:
            raise ExportError("--labels: the checkpoint holds no task head (see --task)")
        return None
    head = heads.labels_for(task, shapes, files.format, raw.get("id2label"), options.labels)
    logging.info(
        "Task head: %s with labels %s (%s)",
        task,
        ", ".join(head.labels),
        "--labels"
        if options.labels
        else ("id2label" if raw.get("id2label") else "the head's shape"),
    )
    return head


def _stack(sources: ExportSources, options: ExportOptions) -> PoolingStack | None:
    """The pooling stack of `embedding/`: the checkpoint's, changed by the options; or None."""
    config = sources.config
    stack = sources.stack
    pooling, normalize = options.embedding_pooling, options.embedding_normalize
    if stack is None and pooling is None:
        if normalize:
            raise ExportError(
                "--embedding_normalize: the checkpoint has no sentence-transformers modules; "
                "pass --embedding_pooling too"
            )
        return None
    if stack is None:
        flags = f"--embedding_pooling={pooling}" + (" --embedding_normalize" if normalize else "")
        stack = PoolingStack(
            modes=(pooling,),
            dimension=config.hidden_size,
            normalize=bool(normalize),
            source=f"{flags} (asked at export: no sentence-transformers modules)",
        )
    elif pooling is not None:
        logging.info(
            "--embedding_pooling=%s replaces the checkpoint's %s (its Dense layers dropped)",
            pooling,
            stack.describe(),
        )
        stack = dataclasses.replace(
            stack, modes=(pooling,), dense=(), source=f"{stack.source}; --embedding_pooling"
        )
    if normalize is not None and normalize != stack.normalize:
        stack = dataclasses.replace(
            stack, normalize=normalize, source=f"{stack.source}; --embedding_normalize"
        )
    if stack.dimension != config.hidden_size:
        raise ExportError(
            f"{stack.source}: the Pooling's embedding_dimension {stack.dimension} differs "
            f"from the config's hidden_size {config.hidden_size}"
        )
    # sentence-transformers caps the length at the position embeddings, as here.
    length = min(stack.max_seq_length or options.default_seq_length, config.max_position_embeddings)
    return dataclasses.replace(stack, max_seq_length=length)


def _build_models(config: BertConfig, options: ExportOptions, precision: str):
    """The encoder and the heads' models (`with_mlm`, `with_nsp`; else None) in `precision`.

    Not initialized: the checkpoint fills them.
    """
    with precisions.policy_scope(precision):
        encoder = build_encoder(config, initialize=False)  # the checkpoint fills it
        mlm_model = build_mlm_model(encoder, config) if options.with_mlm else None
        nsp_model = build_nsp_model(encoder, config) if options.with_nsp else None
    return encoder, mlm_model, nsp_model


def _save_and_verify(
    built: _Built, tmp: pathlib.Path, sources: ExportSources, options: ExportOptions
) -> interface.VerificationInfo:
    """Saves both SavedModels into `tmp`, drops the in-memory models, verifies the saved ones."""
    layout = interface.ExportLayout(tmp)
    with _step(f"Saving {interface.ENCODER_DIR}/ to {tmp}"), _write_errors(tmp):
        saved_encoder.save_encoder(
            built.encoder,
            layout.encoder_dir,
            mlm_model=built.mlm_model,
            nsp_model=built.nsp_model,
            jit_compile=options.jit_compile,
        )
    with _step(f"Saving {interface.PREPROCESS_DIR}/"), _write_errors(tmp):
        tf.saved_model.save(built.preprocessor, os.fspath(layout.preprocess_dir))
    if built.embedding is not None:
        with _step(f"Saving {interface.EMBEDDING_DIR}/"), _write_errors(tmp):
            save_embedding(built.embedding, layout.embedding_dir)
    task_diff = None
    if built.task_module is not None:
        task = built.head.task
        with _step(f"Saving and verifying {task}/"), _write_errors(tmp):
            task_diff = built.task_module.save(layout.part(task))
        built.task_module = None
    # The in-memory weights are no longer needed: only the saved copy stays.
    built.encoder = built.mlm_model = built.nsp_model = None
    built.preprocessor = built.embedding = None
    gc.collect()
    with _step("Verifying the saved models"):
        figures = verify.verify_export(
            tmp,
            built.probe,
            built.reference,
            config=sources.config,
            vocab=built.vocab,
            with_mlm=options.with_mlm,
            with_nsp=options.with_nsp,
            precision=options.precision,
        )
        if built.embedding_reference is not None:
            figures.max_abs_diff.update(
                verify.verify_embedding(layout.embedding_dir, built.embedding_reference)
            )
    if task_diff is not None:
        figures.max_abs_diff[built.head.task] = task_diff
    logging.info(
        "Verified (%s): max abs diff to the float32 in-memory model: %s; "
        "mean-pooled cosine at least %.6f",
        figures.precision,
        ", ".join(f"{k} {v:.2e}" for k, v in figures.max_abs_diff.items()),
        figures.min_cosine,
    )
    return figures


def _metadata(
    final_dir: pathlib.Path,
    checkpoint,
    sources: ExportSources,
    built: _Built,
    figures: interface.VerificationInfo,
    options: ExportOptions,
    start: float,
) -> interface.ExportMetadata:
    preset = sources.preset
    source = interface.SourceInfo(
        checkpoint=os.fspath(pathlib.Path(checkpoint).absolute()),
        format=sources.files.format,
        weights=os.fspath(sources.files.weights),
        sha256=built.checksums,
        config_source=sources.config_source,
        vocab_file=os.fspath(pathlib.Path(sources.vocab_file).absolute()),
        preset=preset.name if preset else None,
        preset_description=preset.description if preset else None,
        language=preset.language if preset else None,
    )
    settings = sources.settings
    tokenizer = interface.TokenizerInfo(
        do_lower_case=settings.do_lower_case,
        strip_accents=settings.effective_strip_accents,
        tokenize_chinese_chars=settings.tokenize_chinese_chars,
        source=sources.settings_source,
    )
    return interface.ExportMetadata(
        name=final_dir.name,
        bert_tf_version=__version__,
        source=source,
        config=sources.config.to_dict(),
        tokenizer=tokenizer,
        special_tokens=built.special,
        default_seq_length=options.default_seq_length,
        with_mlm=options.with_mlm,
        with_nsp=options.with_nsp,
        serving_jit_compile=options.jit_compile,
        load_report=built.report.summary().splitlines()[0],
        verification=figures,
        export_seconds=time.perf_counter() - start,
        precision=options.precision,
        embedding=None if built.stack is None else built.stack.to_dict(),
        task=None if built.head is None else built.head.task,
        labels=() if built.head is None else built.head.labels,
        qa_windows=built.qa_windows,
    )
