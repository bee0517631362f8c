"""`BertConfig`: the one schema for a BERT encoder's architecture.

A config comes from a google-research `bert_config.json`, a Hugging Face
`config.json`, a preset in `configs/`, or a plain dict in our own schema
(`BertConfig.to_dict()`). It is validated when built: every error names the
field, the expected and the received value.

The activation convention matters and is recorded explicitly in `hidden_act`:

| source | name in the file | `hidden_act` |
| --- | --- | --- |
| google-research `bert_config.json` | `"gelu"` | `"gelu_tanh"` (what its checkpoints were trained with) |
| Hugging Face `config.json` | `"gelu"` | `"gelu_exact"` (erf) |
| Hugging Face `config.json` | `"gelu_new"`, `"gelu_pytorch_tanh"` | `"gelu_tanh"` |
| either | `"relu"`, `"silu"` / `"swish"` | `"relu"`, `"silu"` |

>>> config = BertConfig(vocab_size=100, hidden_size=32, num_layers=2, num_heads=4,
...                     intermediate_size=64)
>>> config.head_size
8
>>> BertConfig.from_dict(config.to_dict()) == config
True
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from typing import Any

from absl import logging

from bert_tf.errors import ConfigError

ACTIVATIONS = ("gelu_tanh", "gelu_exact", "relu", "silu")

# Activation names as google-research/bert's modeling.py reads them.
_GOOGLE_ACTIVATIONS = {
    "gelu": "gelu_tanh",
    "relu": "relu",
}
# Activation names as transformers' ACT2FN reads them.
_HF_ACTIVATIONS = {
    "gelu": "gelu_exact",
    "gelu_python": "gelu_exact",
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "gelu_fast": "gelu_tanh",
    "relu": "relu",
    "silu": "silu",
    "swish": "silu",
}

# Our field -> the key google-research and Hugging Face files use.
_FILE_KEYS = {
    "vocab_size": "vocab_size",
    "hidden_size": "hidden_size",
    "num_layers": "num_hidden_layers",
    "num_heads": "num_attention_heads",
    "intermediate_size": "intermediate_size",
    "hidden_act": "hidden_act",
    "hidden_dropout": "hidden_dropout_prob",
    "attention_dropout": "attention_probs_dropout_prob",
    "max_position_embeddings": "max_position_embeddings",
    "type_vocab_size": "type_vocab_size",
    "initializer_range": "initializer_range",
    "layer_norm_eps": "layer_norm_eps",
}
_REQUIRED_FILE_KEYS = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
)
# Hugging Face keys that would change the architecture if not at these values.
_HF_UNSUPPORTED = {
    "position_embedding_type": "absolute",
    "is_decoder": False,
    "add_cross_attention": False,
}


@dataclasses.dataclass(frozen=True)
class BertConfig:
    """The architecture of a BERT encoder.

    Attributes:
        vocab_size: rows of the word embedding table.
        hidden_size: width of every hidden state (`hidden`).
        num_layers: number of transformer blocks.
        num_heads: attention heads per block; divides `hidden_size`.
        intermediate_size: width of the feed-forward layer.
        hidden_act: feed-forward activation, one of `ACTIVATIONS`
            (`"gelu_tanh"`: tanh approximation, google-research's "gelu";
            `"gelu_exact"`: erf, Hugging Face's "gelu").
        hidden_dropout: dropout rate on embeddings and block outputs.
        attention_dropout: dropout rate on attention probabilities.
        max_position_embeddings: longest sequence the encoder accepts.
        type_vocab_size: number of segment (type) ids.
        initializer_range: stddev of the truncated-normal initializer.
        layer_norm_eps: epsilon of every LayerNorm.
    """

    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    hidden_act: str = "gelu_tanh"
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12

    def __post_init__(self):
        for name in (
            "vocab_size",
            "hidden_size",
            "num_layers",
            "num_heads",
            "intermediate_size",
            "max_position_embeddings",
            "type_vocab_size",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(
                    f"config field {name!r}: expected a positive integer, got {value!r}"
                )
        for name in ("hidden_dropout", "attention_dropout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise ConfigError(
                    f"config field {name!r}: expected a rate in [0, 1), got {value!r}"
                )
        for name in ("initializer_range", "layer_norm_eps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(
                    f"config field {name!r}: expected a positive number, got {value!r}"
                )
        if self.hidden_act not in ACTIVATIONS:
            raise ConfigError(
                f"config field 'hidden_act': expected one of {', '.join(ACTIVATIONS)}, "
                f"got {self.hidden_act!r}"
            )
        if self.hidden_size % self.num_heads:
            raise ConfigError(
                f"config field 'hidden_size': expected a multiple of num_heads="
                f"{self.num_heads}, got {self.hidden_size}"
            )

    @property
    def head_size(self) -> int:
        """Width of one attention head: `hidden_size // num_heads`."""
        return self.hidden_size // self.num_heads

    def to_dict(self) -> dict[str, Any]:
        """This config in our own schema (the form `from_dict` reads)."""
        return dataclasses.asdict(self)

    def replace(self, **changes) -> BertConfig:
        """A copy with `changes` applied, validated again."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> BertConfig:
        """Builds a config from a dict in our own schema (see `to_dict`).

        Raises:
            ConfigError: an unknown or missing field, or an invalid value.
        """
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - fields)
        if unknown:
            raise ConfigError(
                f"unknown config field(s) {', '.join(map(repr, unknown))}; "
                f"expected fields: {', '.join(sorted(fields))}"
            )
        missing = [
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.name not in values
        ]
        if missing:
            raise ConfigError(f"config is missing field(s) {', '.join(map(repr, missing))}")
        return cls(**values)

    @classmethod
    def from_google_json(cls, path: str | os.PathLike) -> BertConfig:
        """Reads a google-research `bert_config.json` ("gelu" = tanh approximation)."""
        return cls._from_file_dict(_read_json(path), path, _GOOGLE_ACTIVATIONS, "google-research")

    @classmethod
    def from_hf_json(cls, path: str | os.PathLike) -> BertConfig:
        """Reads a Hugging Face `config.json` ("gelu" = exact erf GELU)."""
        values = _read_json(path)
        for key, supported in _HF_UNSUPPORTED.items():
            if key in values and values[key] != supported:
                raise ConfigError(
                    f"{path}: field {key!r}: only {supported!r} is supported, got {values[key]!r}"
                )
        return cls._from_file_dict(values, path, _HF_ACTIVATIONS, "Hugging Face")

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> BertConfig:
        """Reads a config file of any supported kind, detected by its content.

        A Hugging Face `config.json` carries `model_type`, `architectures` or
        `transformers_version`; a file with our own field names (`num_layers`)
        is in our schema; anything else is read as a google-research
        `bert_config.json`. The choice is logged.
        """
        values = _read_json(path)
        if "num_layers" in values:
            logging.info("Reading %s as a bert-tf config (it has 'num_layers').", path)
            try:
                return cls.from_dict(values)
            except ConfigError as e:
                raise ConfigError(f"{path}: {e}") from None
        if {"model_type", "architectures", "transformers_version"} & set(values):
            logging.info(
                "Reading %s as a Hugging Face config.json (it has model_type/"
                "architectures/transformers_version): 'gelu' means exact erf.",
                path,
            )
            return cls.from_hf_json(path)
        logging.info(
            "Reading %s as a google-research bert_config.json (no Hugging Face "
            "keys): 'gelu' means the tanh approximation.",
            path,
        )
        return cls.from_google_json(path)

    @classmethod
    def from_preset(cls, name: str) -> BertConfig:
        """The config of a preset in `configs/` (see `bert_tf.presets`)."""
        from bert_tf import presets  # presets imports this module.

        return presets.load_preset(name).config

    @classmethod
    def _from_file_dict(cls, values, path, activations, convention) -> BertConfig:
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: expected a JSON object, got {type(values).__name__}")
        missing = [k for k in _REQUIRED_FILE_KEYS if k not in values]
        if missing:
            raise ConfigError(f"{path}: missing field(s) {', '.join(map(repr, missing))}")
        kwargs = {ours: values[theirs] for ours, theirs in _FILE_KEYS.items() if theirs in values}
        act = kwargs.get("hidden_act", "gelu")
        if act not in activations:
            raise ConfigError(
                f"{path}: field 'hidden_act': expected one of {', '.join(sorted(activations))} "
                f"({convention} names), got {act!r}"
            )
        kwargs["hidden_act"] = activations[act]
        logging.info("%s: %s hidden_act %r -> %r.", path, convention, act, kwargs["hidden_act"])
        try:
            return cls(**kwargs)
        except ConfigError as e:
            raise ConfigError(f"{path}: {e}") from None


def _read_json(path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config file {path}: {e}") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"config file {path} is not valid JSON: {e}") from None
