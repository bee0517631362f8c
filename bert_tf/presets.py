"""Presets: the known BERT releases, as plain data in `configs/<name>.json`.

Each file holds the architecture (`config`, in `BertConfig`'s schema, with the
activation convention resolved: `gelu_tanh` for google-research checkpoints,
`gelu_exact` for Hugging Face's "gelu"), the tokenizer settings the release was
trained with, its language and where it comes from:

```json
{
  "name": "bert_uncased_L-12_H-768_A-12",
  "description": "...",
  "format": "google",
  "language": "en",
  "source": "https://storage.googleapis.com/bert_models/...",
  "activation_convention": "google-research 'gelu' = tanh approximation",
  "config": {"vocab_size": 30522, "hidden_size": 768, ...},
  "tokenizer": {"do_lower_case": true, "strip_accents": true,
                "tokenize_chinese_chars": true}
}
```

>>> preset = load_preset("all-MiniLM-L6-v2")
>>> preset.config.num_layers, preset.config.hidden_size, preset.tokenizer["do_lower_case"]
(6, 384, True)
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import json
from typing import Any

from bert_tf.config import BertConfig
from bert_tf.errors import ConfigError

_PACKAGE = "bert_tf.configs"
_TOKENIZER_KEYS = ("do_lower_case", "strip_accents", "tokenize_chinese_chars")
_FORMATS = ("google", "huggingface")


@dataclasses.dataclass(frozen=True)
class Preset:
    """A known release.

    Attributes:
        name: the preset's name (the file name without `.json`).
        config: its architecture.
        tokenizer: `do_lower_case`, `strip_accents`, `tokenize_chinese_chars`
            (booleans; `strip_accents` may be None: follows `do_lower_case`).
        language: a BCP-47 language code, or "multilingual".
        source: where the checkpoint is published.
        description: one line for humans.
        format: the checkpoint format it is published in, "google" or "huggingface".
        activation_convention: how the release's file names its activation.
    """

    name: str
    config: BertConfig
    tokenizer: dict[str, Any]
    language: str
    source: str
    description: str
    format: str
    activation_convention: str


def list_presets() -> list[str]:
    """Names of every preset in `configs/`, sorted."""
    return sorted(_files())


def load_preset(name: str) -> Preset:
    """The preset called `name`.

    Raises:
        ConfigError: no such preset (the message lists the known ones), or the
            preset file is invalid.
    """
    files = _files()
    if name not in files:
        raise ConfigError(f"unknown preset {name!r}; known presets: {', '.join(sorted(files))}")
    return _load(name)


def find_preset(config: BertConfig, do_lower_case: bool | None = None) -> list[str]:
    """Names of the presets whose architecture equals `config` (and casing, if given)."""
    names = []
    for name in list_presets():
        preset = _load(name)
        if preset.config != config:
            continue
        if do_lower_case is not None and preset.tokenizer["do_lower_case"] != do_lower_case:
            continue
        names.append(name)
    return names


@functools.cache
def _files() -> dict[str, Any]:
    root = importlib.resources.files(_PACKAGE)
    return {
        entry.name[: -len(".json")]: entry
        for entry in root.iterdir()
        if entry.name.endswith(".json")
    }


@functools.cache
def _load(name: str) -> Preset:
    path = _files()[name]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"preset file {path} cannot be read: {e}") from None
    expected = {
        "name",
        "description",
        "format",
        "language",
        "source",
        "activation_convention",
        "config",
        "tokenizer",
    }
    if not isinstance(data, dict) or set(data) != expected:
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ConfigError(f"preset file {path}: expected keys {sorted(expected)}, got {found}")
    if data["name"] != name:
        raise ConfigError(f"preset file {path}: 'name' is {data['name']!r}, expected {name!r}")
    if data["format"] not in _FORMATS:
        raise ConfigError(
            f"preset file {path}: 'format' must be one of {_FORMATS}, got {data['format']!r}"
        )
    tokenizer = data["tokenizer"]
    if not isinstance(tokenizer, dict) or set(tokenizer) != set(_TOKENIZER_KEYS):
        raise ConfigError(
            f"preset file {path}: 'tokenizer' must have keys {list(_TOKENIZER_KEYS)}, "
            f"got {tokenizer!r}"
        )
    try:
        config = BertConfig.from_dict(data["config"])
    except ConfigError as e:
        raise ConfigError(f"preset file {path}: {e}") from None
    return Preset(
        name=name,
        config=config,
        tokenizer=dict(tokenizer),
        language=data["language"],
        source=data["source"],
        description=data["description"],
        format=data["format"],
        activation_convention=data["activation_convention"],
    )
