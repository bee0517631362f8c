"""`export_pair()`: one checkpoint -> a verified, documented encoder + preprocessing pair.

The steps, each logged with its timing:

1. resolve the checkpoint's format, config, vocab and tokenizer settings
   (`export.sources`; every detected choice is logged with its reason), and
   check the vocab size against the config;
2. build the encoder without its random initialization (the checkpoint fills
   every weight; and the masked-LM model with `with_mlm`) and load every
   weight from the checkpoint, one tensor at a time;
3. build the preprocessing model and check its special tokens;
4. run the verification texts through the in-memory models;
5. in a temporary folder beside `output_dir`: save `encoder/` and
   `preprocess/`, drop the in-memory models, load both SavedModels back and
   check them (`export.verify`), write the metadata and `README.md`;
6. rename the folder into place (`export.atomic`). On any error or Ctrl-C
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
import re
import time
from typing import Any, Iterator

import tensorflow as tf
from absl import logging

from bert_tf.checkpoints import CheckpointFiles, load_checkpoint
from bert_tf.config import BertConfig
from bert_tf.encoder import build_encoder
from bert_tf.errors import BertTfError, CheckpointError
from bert_tf.heads import build_mlm_model
from export import atomic, model_card, saved_encoder, verify
from export.errors import ExportError
from export.sources import ExportSources, resolve_sources
from preprocess import TokenizerSettings, build_preprocess_model, load_vocab

BERT_TF_VERSION = "0.1.0"


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What `export_pair` wrote.

    Attributes:
        output_dir: the export folder (`encoder/`, `preprocess/`, `README.md`).
        config: the encoder's architecture.
        settings: the tokenizer settings of `preprocess/`.
        metadata: everything the model card shows, including the verification
            figures (`metadata["verification"]["max_abs_diff"]`: endpoint -> max
            abs difference to the in-memory model).
        seconds: wall time of the export.
    """

    output_dir: pathlib.Path
    config: BertConfig
    settings: TokenizerSettings
    metadata: dict[str, Any]
    seconds: float

    @property
    def encoder_dir(self) -> pathlib.Path:
        return self.output_dir / "encoder"

    @property
    def preprocess_dir(self) -> pathlib.Path:
        return self.output_dir / "preprocess"


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


def _weight_files(files: CheckpointFiles) -> list[pathlib.Path]:
    """The files holding the weights: the file itself, or a TF1 prefix's index and data shards."""
    weights = pathlib.Path(files.weights)
    if weights.name.endswith(".index.json"):  # sharded Hugging Face weights
        shards = json.loads(weights.read_text(encoding="utf-8")).get("weight_map", {}).values()
        return [weights, *sorted({weights.parent / name for name in shards})]
    if weights.is_file():
        return [weights]
    return sorted(p for p in weights.parent.glob(weights.name + ".*")
                  if p.is_file() and re.fullmatch(r"\.(index|data-\d+-of-\d+)",
                                                  p.name[len(weights.name):]))


def _sha256(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _build_preprocessor(sources: ExportSources, default_seq_length: int):
    try:
        return build_preprocess_model(sources.vocab_file, sources.settings,
                                      default_seq_length=default_seq_length)
    except BertTfError:
        raise
    except (ValueError, OSError, tf.errors.OpError) as error:
        raise ExportError(f"cannot build the preprocessing model from {sources.vocab_file}: "
                          f"{str(error).splitlines()[0] if str(error) else error!r}") from error


def _load_weights(sources: ExportSources, encoder, mlm_model):
    try:
        report = load_checkpoint(sources.files, encoder, mlm_model=mlm_model)
    except CheckpointError as error:
        if sources.preset is not None and "preset" in sources.config_source:
            raise CheckpointError(f"checkpoint does not match preset {sources.preset.name}: "
                                  f"{error}", report=error.report) from error
        raise
    logging.info("Checkpoint load: %s", report.summary())
    return report


def export_pair(checkpoint: str, output_dir: str, *, config: str | None = None,
                vocab_file: str | None = None, do_lower_case: bool | None = None,
                default_seq_length: int = 128, with_mlm: bool = False,
                overwrite: bool = False, serving_jit_compile: bool = True) -> ExportResult:
    """Exports a BERT checkpoint as `output_dir/{encoder,preprocess,README.md}`.

    Args:
        checkpoint: a TF1 checkpoint prefix (`.../bert_model.ckpt`), a folder
            holding one, or a Hugging Face / sentence-transformers folder.
        output_dir: the export folder to create.
        config: a config file or a preset name; None: the config beside the checkpoint.
        vocab_file: None: the `vocab.txt` beside the checkpoint.
        do_lower_case: None: from `tokenizer_config.json`, the preset, the
            checkpoint's name or the vocab (the choice is logged).
        default_seq_length: the `seq_length` of `preprocess(strings)`.
        with_mlm: also export the masked-LM head as `encoder.mlm`; the
            checkpoint must have one.
        overwrite: replace an existing `output_dir` (only after the new export
            is complete and verified).
        serving_jit_compile: XLA-compile the encoder's `serving_default` and
            `tokens` signatures (faster on CPU and GPU, same outputs to ~1e-6).

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
    if not 2 <= default_seq_length:
        raise ExportError(f"--default_seq_length must be at least 2, got {default_seq_length}")
    final_dir = atomic.check_destination(output_dir, overwrite=overwrite)
    sources = resolve_sources(checkpoint, config=config, vocab_file=vocab_file,
                              do_lower_case=do_lower_case)
    bert_config = sources.config
    if default_seq_length > bert_config.max_position_embeddings:
        raise ExportError(f"--default_seq_length {default_seq_length} exceeds the config's "
                          f"max_position_embeddings {bert_config.max_position_embeddings}")

    vocab = load_vocab(sources.vocab_file)
    if len(vocab) != bert_config.vocab_size:
        raise ExportError(f"vocab size {len(vocab)} of {sources.vocab_file} differs from the "
                          f"config's vocab_size {bert_config.vocab_size}")
    with _step(f"Building the encoder ({bert_config.num_layers} layers, hidden size "
               f"{bert_config.hidden_size}) and loading {sources.files.format} weights"):
        encoder = build_encoder(bert_config, initialize=False)  # the checkpoint fills it
        mlm_model = build_mlm_model(encoder, bert_config) if with_mlm else None
        report = _load_weights(sources, encoder, mlm_model)
        if with_mlm and not report.has_mlm_head:
            raise ExportError(f"--with_mlm: checkpoint {sources.files.weights} has no masked-LM "
                              "head weights")
    with _step("Building the preprocessing model"):
        preprocessor = _build_preprocessor(sources, default_seq_length)
        special = verify.check_special_tokens(
            preprocessor.tokenize.get_special_tokens_dict(), bert_config, vocab,
            sources.vocab_file)
    with _step("Running the verification texts in memory"):
        probe = verify.make_probe(preprocessor, default_seq_length)
        reference = verify.reference_outputs(encoder, mlm_model, probe)
    with _step("Hashing the checkpoint files"):
        checksums = {p.name: _sha256(p) for p in _weight_files(sources.files)}

    with atomic.atomic_directory(final_dir, overwrite=overwrite) as tmp:
        with _step(f"Saving encoder/ to {tmp}"), _write_errors(tmp):
            saved_encoder.save_encoder(encoder, tmp / "encoder", mlm_model=mlm_model,
                                       jit_compile=serving_jit_compile)
        with _step("Saving preprocess/"), _write_errors(tmp):
            tf.saved_model.save(preprocessor, os.fspath(tmp / "preprocess"))
        # The in-memory weights are no longer needed: only the saved copy stays.
        del encoder, mlm_model, preprocessor
        gc.collect()
        with _step("Verifying the saved models"):
            figures = verify.verify_export(tmp, probe, reference, config=bert_config,
                                           vocab=vocab, with_mlm=with_mlm)
        logging.info("Verified: max abs diff to the in-memory model: %s",
                     ", ".join(f"{k} {v:.2e}" for k, v in figures["max_abs_diff"].items()))
        metadata = {
            "name": final_dir.name,
            "bert_tf_version": BERT_TF_VERSION,
            "source": {
                "checkpoint": os.fspath(pathlib.Path(checkpoint).absolute()),
                "format": sources.files.format,
                "weights": os.fspath(sources.files.weights),
                "sha256": checksums,
                "config_source": sources.config_source,
                "vocab_file": os.fspath(pathlib.Path(sources.vocab_file).absolute()),
                "preset": sources.preset.name if sources.preset else None,
                "preset_description": sources.preset.description if sources.preset else None,
                "language": sources.preset.language if sources.preset else None,
            },
            "config": bert_config.to_dict(),
            "tokenizer": {**sources.settings.to_dict(),
                          "strip_accents": sources.settings.effective_strip_accents,
                          "source": sources.settings_source},
            "special_tokens": special,
            "default_seq_length": default_seq_length,
            "with_mlm": with_mlm,
            "serving_jit_compile": serving_jit_compile,
            "load_report": report.summary().splitlines()[0],
            "verification": figures,
            "export_seconds": time.perf_counter() - start,
        }
        model_card.write_metadata(tmp, metadata)
        model_card.write_model_card(tmp, metadata, final_dir)
    seconds = time.perf_counter() - start
    logging.info("Exported %s in %.1f s", final_dir, seconds)
    return ExportResult(output_dir=final_dir, config=bert_config, settings=sources.settings,
                        metadata=metadata, seconds=seconds)
