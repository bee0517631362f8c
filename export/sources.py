"""Decide what an export is made of: checkpoint files, config, vocab, tokenizer settings.

Every choice not given explicitly is detected, and logged with its reason:

- the checkpoint format and its files: `bert_tf.checkpoints.find_checkpoint`;
- the config: `--config` (a file, or a preset name from `configs/`), else the
  `bert_config.json` / `config.json` found beside the checkpoint;
- the vocab: `--vocab_file`, else the `vocab.txt` beside the checkpoint, else
  the WordPiece vocab of its `tokenizer.json` (then also its normalizer settings);
- the tokenizer settings: `--do_lower_case` if given, else the checkpoint's
  `tokenizer_config.json`, else the preset (named by `--config`, or the one
  whose architecture equals the config), else the checkpoint's name
  ("uncased" / "cased"), else the vocab itself (upper-case letters in its
  wordpieces mean a cased model);
- the sentence-embedding stack: the checkpoint folder's sentence-transformers
  modules (`bert_tf.checkpoints.sentence_transformers`), else none.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re

from absl import logging

from bert_tf import presets
from bert_tf.checkpoints import CheckpointFiles, find_checkpoint
from bert_tf.checkpoints.sentence_transformers import PoolingStack, read_pooling_stack
from bert_tf.checkpoints.tokenizer_json import TokenizerJson, read_tokenizer_json, write_vocab
from bert_tf.config import BertConfig
from bert_tf.errors import ConfigError
from bert_tf.export.errors import ExportError
from bert_tf.preprocess import TokenizerSettings


@dataclasses.dataclass(frozen=True)
class ExportSources:
    """Everything an export reads, and why each piece was chosen.

    Attributes:
        files: the checkpoint's files and format.
        config: the encoder architecture.
        config_source: where `config` comes from, for humans.
        preset: the preset named by `--config`, or the one matching `config`; or None.
        vocab_file: the wordpiece vocab.
        settings: the tokenizer settings.
        settings_source: where `settings.do_lower_case` comes from, for humans.
        stack: the sentence-transformers pooling stack of the checkpoint folder, or None.
    """

    files: CheckpointFiles
    config: BertConfig
    config_source: str
    preset: presets.Preset | None
    vocab_file: str
    settings: TokenizerSettings
    settings_source: str
    stack: PoolingStack | None = None


def _read_config(
    config: str | None, files: CheckpointFiles
) -> tuple[BertConfig, str, presets.Preset | None]:
    if config is None:
        if not files.config:
            raise ExportError(
                f"no bert_config.json or config.json found beside checkpoint "
                f"{files.weights}: pass --config (a file or a preset name)"
            )
        return BertConfig.from_file(files.config), f"{files.config} (beside the checkpoint)", None
    if os.path.isfile(config):
        return BertConfig.from_file(config), f"{config} (--config)", None
    if config in presets.list_presets():
        preset = presets.load_preset(config)
        return preset.config, f"preset {config} (--config)", preset
    raise ConfigError(
        f"--config {config!r} is neither a file nor a preset name; "
        f"presets: {', '.join(presets.list_presets())}"
    )


def _vocab_is_cased(vocab_file: str) -> tuple[bool, int]:
    """Whether the vocab holds wordpieces with upper-case letters (special tokens aside)."""
    count = 0
    with open(vocab_file, encoding="utf-8", errors="replace") as f:
        for line in f:
            token = line.strip()
            if token.startswith("[") and token.endswith("]"):
                continue
            if any(char.isupper() for char in token):
                count += 1
    return count > 0, count


def _name_casing(checkpoint: str) -> bool | None:
    """Casing from the checkpoint's file and folder names, as google-research names them."""
    name = "/".join(pathlib.Path(checkpoint).absolute().parts[-2:]).lower()
    if "uncased" in name:
        return True
    if re.search(r"(^|[^a-z])cased", name):
        return False
    return None


def _settings(
    do_lower_case: bool | None,
    files: CheckpointFiles,
    preset: presets.Preset | None,
    checkpoint: str,
    vocab_file: str,
    tokenizer_json: TokenizerJson | None = None,
) -> tuple[TokenizerSettings, str]:
    base = None
    if tokenizer_json is not None:
        base = TokenizerSettings(
            do_lower_case=tokenizer_json.lowercase,
            strip_accents=tokenizer_json.strip_accents,
            tokenize_chinese_chars=tokenizer_json.tokenize_chinese_chars,
        )
        source = f"{tokenizer_json.path} (normalizer)"
    elif files.tokenizer_config:
        base = TokenizerSettings.from_tokenizer_config(files.tokenizer_config)
        source = f"{files.tokenizer_config}"
    elif preset is not None:
        base = TokenizerSettings(**preset.tokenizer)
        source = f"preset {preset.name}"
    if do_lower_case is not None:
        if base is None:
            return TokenizerSettings(do_lower_case=do_lower_case), "--do_lower_case"
        return dataclasses.replace(base, do_lower_case=do_lower_case), "--do_lower_case"
    if base is not None:
        return base, source
    by_name = _name_casing(checkpoint)
    if by_name is not None:
        return (
            TokenizerSettings(do_lower_case=by_name),
            f"the checkpoint's name {checkpoint!r} says {'un' if by_name else ''}cased",
        )
    cased, count = _vocab_is_cased(vocab_file)
    reason = (
        f"{vocab_file} has {count} wordpieces with upper-case letters"
        if cased
        else f"{vocab_file} has no wordpieces with upper-case letters"
    )
    return TokenizerSettings(do_lower_case=not cased), reason


def resolve_sources(
    checkpoint: str,
    *,
    config: str | None = None,
    vocab_file: str | None = None,
    do_lower_case: bool | None = None,
) -> ExportSources:
    """Finds and decides everything an export reads; logs each choice and its reason.

    Args:
        checkpoint: a TF1 checkpoint prefix, a folder holding one, or a Hugging
            Face / sentence-transformers folder.
        config: a config file or a preset name; None: the one beside the checkpoint.
        vocab_file: the vocab; None: the `vocab.txt` beside the checkpoint.
        do_lower_case: None: detected (see the module docstring).

    Raises:
        CheckpointError: the checkpoint or its files are missing.
        ConfigError: the config cannot be read or is invalid.
        ExportError: no config or vocab could be found.
    """
    files = find_checkpoint(checkpoint)
    logging.info("Checkpoint: %s format, weights %s", files.format, files.weights)
    tokenizer_json = None
    stack = read_pooling_stack(checkpoint) if os.path.isdir(checkpoint) else None
    if stack is not None:
        logging.info("Sentence-transformers stack: %s (from %s)", stack.describe(), stack.source)
    bert_config, config_source, preset = _read_config(config, files)
    if preset is None:
        matches = presets.find_preset(bert_config)
        if len(matches) == 1:
            preset = presets.load_preset(matches[0])
            config_source += f"; architecture matches preset {preset.name}"
    logging.info("Config: %s", config_source)

    if vocab_file is not None:
        if not os.path.isfile(vocab_file):
            raise ExportError(f"--vocab_file {vocab_file}: no such file")
        vocab_source = "--vocab_file"
    elif files.vocab:
        vocab_file, vocab_source = os.fspath(files.vocab), "beside the checkpoint"
    elif files.tokenizer_json:
        tokenizer_json = read_tokenizer_json(files.tokenizer_json)
        vocab_file = os.fspath(write_vocab(tokenizer_json.tokens))
        vocab_source = f"the WordPiece vocab of {files.tokenizer_json}"
    else:
        raise ExportError(
            f"no vocab.txt or tokenizer.json found beside checkpoint {files.weights}: "
            "pass --vocab_file"
        )
    logging.info("Vocab: %s (%s)", vocab_file, vocab_source)

    settings, settings_source = _settings(
        do_lower_case, files, preset, checkpoint, vocab_file, tokenizer_json
    )
    logging.info(
        "Tokenizer: do_lower_case=%s, strip_accents=%s, tokenize_chinese_chars=%s (from %s)",
        settings.do_lower_case,
        settings.effective_strip_accents,
        settings.tokenize_chinese_chars,
        settings_source,
    )
    return ExportSources(
        files=files,
        config=bert_config,
        config_source=config_source,
        preset=preset,
        vocab_file=vocab_file,
        settings=settings,
        settings_source=settings_source,
        stack=stack,
    )
