"""`find_checkpoint(path)`: which files make up a checkpoint, and in which format."""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import re

from absl import logging

from bert_tf.checkpoints.sentence_transformers import module_kind
from bert_tf.errors import CheckpointError

# Hugging Face weight files, in order of preference (safetensors needs no torch).
HF_WEIGHTS = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
_DATA_SUFFIX = re.compile(r"\.data-\d{5}-of-\d{5}$")


@dataclasses.dataclass(frozen=True)
class CheckpointFiles:
    """The files of one checkpoint.

    Attributes:
        format: "google" (TF1) or "huggingface".
        weights: the TF1 prefix (`.../bert_model.ckpt`) or the HF weights file
            (`model.safetensors`, `pytorch_model.bin`, or a shard `*.index.json`).
        config: `bert_config.json` / `config.json` beside it, or None.
        vocab: `vocab.txt` beside it, or None.
        tokenizer_config: HF `tokenizer_config.json` beside it, or None.
        weight_files: every file holding the weights (a TF1 `.index` and its
            `.data-*` shards; a HF file, or a shard index and its shards),
            found once here for the readers and the export's checksums.
        tokenizer_json: HF `tokenizer.json` beside it, or None (the vocab
            when there is no `vocab.txt`).
    """

    format: str
    weights: str
    config: str | None
    vocab: str | None
    tokenizer_config: str | None
    weight_files: tuple[str, ...] = ()
    tokenizer_json: str | None = None


def find_checkpoint(path: str | os.PathLike) -> CheckpointFiles:
    """Finds a checkpoint's files and detects its format.

    Args:
        path: a TF1 prefix (`.../bert_model.ckpt`), one of its `.index` /
            `.data-*` files, a folder holding one, a Hugging Face folder, a
            sentence-transformers folder (its Transformer module's folder is
            used), or a HF weights file.

    Raises:
        CheckpointError: nothing loadable there, or a TF1 index without data.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        return _find_in_folder(path)
    if os.path.isfile(path):
        name = os.path.basename(path)
        if name.endswith(".index") and not name.endswith(".index.json"):
            return _google(path[: -len(".index")])
        if _DATA_SUFFIX.search(name):
            return _google(_DATA_SUFFIX.sub("", path))
        if name.endswith((".safetensors", ".bin", ".index.json")):
            return _huggingface(os.path.dirname(path) or ".", path)
        raise CheckpointError(
            f"{path} is not a checkpoint: expected a TF1 prefix, a .safetensors / .bin "
            f"weights file, or a folder holding one"
        )
    if os.path.isfile(path + ".index"):
        return _google(path)
    raise CheckpointError(
        f"checkpoint not found: {path} (expected a TF1 prefix such as .../bert_model.ckpt "
        f"with its .index and .data files, or a folder with {' or '.join(HF_WEIGHTS[::2])})"
    )


def _find_in_folder(folder: str) -> CheckpointFiles:
    folder = _sentence_transformers_module(folder)
    hf = next(
        (os.path.join(folder, n) for n in HF_WEIGHTS if os.path.isfile(os.path.join(folder, n))),
        None,
    )
    indexes = sorted(glob.glob(os.path.join(glob.escape(folder), "*.index")))
    if hf is not None:
        if indexes:
            logging.info(
                "%s holds both Hugging Face weights and a TF1 checkpoint; "
                "using the Hugging Face weights %s.",
                folder,
                hf,
            )
        return _huggingface(folder, hf)
    if not indexes:
        raise CheckpointError(
            f"no checkpoint in folder {folder}: expected bert_model.ckpt.index (+ .data) "
            f"or {' or '.join(HF_WEIGHTS[::2])}"
        )
    preferred = os.path.join(folder, "bert_model.ckpt.index")
    if preferred in indexes:
        return _google(preferred[: -len(".index")])
    if len(indexes) == 1:
        return _google(indexes[0][: -len(".index")])
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(folder)
    if latest:
        logging.info("%s holds several TF1 checkpoints; using the latest, %s.", folder, latest)
        return _google(latest)
    raise CheckpointError(
        f"folder {folder} holds several TF1 checkpoints "
        f"({', '.join(os.path.basename(i)[: -len('.index')] for i in indexes)}); pass one prefix"
    )


def _sentence_transformers_module(folder: str) -> str:
    """The folder of a sentence-transformers model's Transformer module (or `folder`)."""
    modules = os.path.join(folder, "modules.json")
    if not os.path.isfile(modules):
        return folder
    try:
        with open(modules, encoding="utf-8") as f:
            entries = json.load(f)
        module = next(e for e in entries if module_kind(str(e.get("type", ""))) == "Transformer")
    except (OSError, ValueError, StopIteration, AttributeError) as e:
        raise CheckpointError(
            f"{modules}: cannot find the Transformer module of this sentence-transformers "
            f"folder ({type(e).__name__})"
        ) from None
    sub = os.path.join(folder, module.get("path", ""))
    if os.path.normpath(sub) != os.path.normpath(folder):
        logging.info("sentence-transformers folder %s: the encoder is in %s.", folder, sub)
    return sub


def _existing(*paths: str) -> str | None:
    return next((p for p in paths if os.path.isfile(p)), None)


def _google(prefix: str) -> CheckpointFiles:
    if not os.path.isfile(prefix + ".index"):
        raise CheckpointError(f"TF1 checkpoint index not found: {prefix}.index")
    data = sorted(glob.glob(glob.escape(prefix) + ".data-*-of-*"))
    if not data:
        raise CheckpointError(
            f"TF1 checkpoint data file not found: {prefix}.data-00000-of-00001 "
            f"(only the .index is there)"
        )
    folder = os.path.dirname(prefix) or "."
    return CheckpointFiles(
        format="google",
        weights=prefix,
        config=_existing(
            os.path.join(folder, "bert_config.json"), os.path.join(folder, "config.json")
        ),
        vocab=_existing(os.path.join(folder, "vocab.txt")),
        tokenizer_config=_existing(os.path.join(folder, "tokenizer_config.json")),
        weight_files=(prefix + ".index", *data),
        tokenizer_json=_existing(os.path.join(folder, "tokenizer.json")),
    )


def _huggingface(folder: str, weights: str) -> CheckpointFiles:
    return CheckpointFiles(
        format="huggingface",
        weights=weights,
        config=_existing(os.path.join(folder, "config.json")),
        vocab=_existing(os.path.join(folder, "vocab.txt")),
        tokenizer_config=_existing(os.path.join(folder, "tokenizer_config.json")),
        weight_files=tuple(shard_files(weights)),
        tokenizer_json=_existing(os.path.join(folder, "tokenizer.json")),
    )


def shard_files(path: str) -> list[str]:
    """The weight files of a HF weights `path`: itself, or the shards a `*.index.json` names."""
    if not path.endswith(".index.json"):
        return [path]
    try:
        with open(path, encoding="utf-8") as f:
            weight_map = json.load(f)["weight_map"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"cannot read shard index {path}: {e}") from None
    folder = os.path.dirname(path)
    return [os.path.join(folder, name) for name in sorted(set(weight_map.values()))]
