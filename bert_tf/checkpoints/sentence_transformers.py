"""The sentence-transformers stack of a checkpoint folder: how its token vectors become one vector.

A sentence-transformers folder says how to embed: `modules.json` lists the
modules (a Transformer, then Pooling, Dense layers, Normalize), each in its own
sub-folder; `1_Pooling/config.json` names the pooling; `2_Dense/` holds a
linear layer's config and weights; `sentence_bert_config.json` (or, as
sentence-transformers 6 writes it, `tokenizer_config.json`'s
`model_max_length`) the truncation length; `config_sentence_transformers.json`
the prompts. `read_pooling_stack(folder)` reads all of it into a
`PoolingStack`; any module it cannot reproduce is a one-line
`CheckpointError` naming the module, never skipped.

Module types are accepted under the paths of sentence-transformers 2.x-5.x
(`sentence_transformers.models.Pooling`) and of 6.x
(`sentence_transformers.sentence_transformer.modules.pooling.Pooling`,
`sentence_transformers.base.modules.dense.Dense`, ...).

>>> stack = PoolingStack(modes=("cls",), normalize=True, dimension=384)
>>> stack.describe()
'cls pooling + Normalize'
>>> PoolingStack.from_dict(stack.to_dict()) == stack
True
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import Mapping
from typing import Any

from bert_tf.checkpoints.json_files import read_json
from bert_tf.errors import CheckpointError
from bert_tf.interface import POOLING_MODES

# The pre-6 config keys (one bool per mode) -> the mode.
_LEGACY_MODE_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
# torch activation classes sentence-transformers writes into a Dense config -> our name.
ACTIVATIONS = {
    "Identity": "identity",
    "Tanh": "tanh",
    "ReLU": "relu",
    "GELU": "gelu",
    "Sigmoid": "sigmoid",
    "SiLU": "silu",
    "LeakyReLU": "leaky_relu",
    "ELU": "elu",
    "Softplus": "softplus",
    "Mish": "mish",
}
_MODULE_KINDS = ("Transformer", "Pooling", "Dense", "Normalize")
MODULES_FILE = "modules.json"


@dataclasses.dataclass(frozen=True)
class DenseLayer:
    """One sentence-transformers Dense module: `activation(x @ W^T + b)`.

    Attributes:
        in_features, out_features: the widths.
        bias: whether it adds a bias.
        activation: one of `ACTIVATIONS`' values.
        weights: the module's weights file (`model.safetensors` or `pytorch_model.bin`).
    """

    in_features: int
    out_features: int
    bias: bool
    activation: str
    weights: str

    def describe(self) -> str:
        return f"Dense {self.in_features}->{self.out_features} {self.activation}"


@dataclasses.dataclass(frozen=True)
class PoolingStack:
    """How one export turns its last layer into a sentence vector.

    Attributes:
        modes: pooling modes (of `POOLING_MODES`), concatenated in this order (the
            config's order for sentence-transformers 6, `POOLING_MODES` order before).
        dimension: the encoder's hidden size the pooling reads.
        include_prompt: whether prompt tokens take part in the pooling.
        dense: the Dense layers after the pooling, in order.
        normalize: scale the result to unit L2 norm.
        max_seq_length: tokens per text, `[CLS]` and `[SEP]` included; None: the export's
            `default_seq_length`.
        prompts: prompt name -> the text prepended to each input.
        default_prompt_name: the prompt used when none is named, or None.
        source: where the stack comes from, for humans.
    """

    modes: tuple[str, ...]
    dimension: int
    include_prompt: bool = True
    dense: tuple[DenseLayer, ...] = ()
    normalize: bool = False
    max_seq_length: int | None = None
    prompts: dict[str, str] = dataclasses.field(default_factory=dict)
    default_prompt_name: str | None = None
    source: str = ""

    def __post_init__(self):
        for mode in self.modes:
            if mode not in POOLING_MODES:
                raise CheckpointError(
                    f"pooling mode: expected one of {', '.join(POOLING_MODES)}, found {mode!r}"
                )

    @property
    def output_dimension(self) -> int:
        """The width of the vectors."""
        if self.dense:
            return self.dense[-1].out_features
        return self.dimension * len(self.modes)

    def describe(self) -> str:
        """One line: `mean pooling + Dense 384->256 tanh + Normalize`."""
        parts = [f"{' + '.join(self.modes)} pooling"]
        if not self.include_prompt:
            parts[0] += " (prompt excluded)"
        parts += [layer.describe() for layer in self.dense]
        if self.normalize:
            parts.append("Normalize")
        return " + ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PoolingStack:
        values = dict(data)
        values["modes"] = tuple(values["modes"])
        values["dense"] = tuple(DenseLayer(**layer) for layer in values.get("dense", ()))
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in names})


def module_kind(type_name: str) -> str | None:
    """`Transformer`, `Pooling`, `Dense` or `Normalize` for a modules.json type, else None.

    >>> module_kind("sentence_transformers.models.Pooling")
    'Pooling'
    >>> module_kind("sentence_transformers.base.modules.dense.Dense")
    'Dense'
    >>> module_kind("sentence_transformers.models.CNN") is None
    True
    """
    if not type_name.startswith("sentence_transformers."):
        return None
    kind = type_name.rsplit(".", 1)[-1]
    return kind if kind in _MODULE_KINDS else None


def _pooling(folder: pathlib.Path) -> tuple[tuple[str, ...], int, bool]:
    path = folder / "config.json"
    config = read_json(path, "Pooling config")
    if "pooling_mode" in config:
        # sentence-transformers 6: concatenated in the order given.
        mode = config["pooling_mode"]
        modes = (mode,) if isinstance(mode, str) else tuple(mode)
    else:
        # Before 6, one bool per mode, concatenated in `POOLING_MODES` order.
        modes = tuple(mode for key, mode in _LEGACY_MODE_KEYS.items() if config.get(key))
        modes = modes or ("mean",)  # sentence-transformers' default
    dimension = config.get("embedding_dimension", config.get("word_embedding_dimension"))
    if not isinstance(dimension, int):
        raise CheckpointError(f"{path}: expected an int embedding_dimension, found {dimension!r}")
    try:
        stack = PoolingStack(modes=modes, dimension=dimension)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
    return stack.modes, dimension, bool(config.get("include_prompt", True))


def _dense(folder: pathlib.Path) -> DenseLayer:
    path = folder / "config.json"
    config = read_json(path, "Dense config")
    activation_path = config.get("activation_function", "torch.nn.modules.activation.Tanh")
    activation = ACTIVATIONS.get(str(activation_path).rsplit(".", 1)[-1])
    if activation is None or not str(activation_path).startswith("torch."):
        raise CheckpointError(
            f"{path}: activation_function: expected one of torch.nn's "
            f"{', '.join(ACTIVATIONS)}, found {activation_path!r}"
        )
    weights = next(
        (folder / n for n in ("model.safetensors", "pytorch_model.bin") if (folder / n).is_file()),
        None,
    )
    if weights is None:
        raise CheckpointError(
            f"{folder}: Dense module without model.safetensors or pytorch_model.bin"
        )
    try:
        return DenseLayer(
            in_features=int(config["in_features"]),
            out_features=int(config["out_features"]),
            bias=bool(config.get("bias", True)),
            activation=activation,
            weights=os.fspath(weights),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: expected in_features and out_features ({e!r})") from None


def _max_seq_length(folder: pathlib.Path, transformer_path: str) -> int | None:
    """`max_seq_length` of sentence_bert_config.json, else the tokenizer's `model_max_length`."""
    sub = folder / transformer_path
    for path in (sub / "sentence_bert_config.json", folder / "sentence_bert_config.json"):
        if path.is_file():
            value = read_json(path, "sentence-transformers config").get("max_seq_length")
            if isinstance(value, int) and value > 0:
                return value
    path = sub / "tokenizer_config.json"
    if path.is_file():
        value = read_json(path, "tokenizer config").get("model_max_length")
        # Hugging Face writes a huge sentinel (int(1e30)) for "no limit".
        if isinstance(value, int) and 0 < value < 1_000_000:
            return value
    return None


def _prompts(folder: pathlib.Path) -> tuple[dict[str, str], str | None]:
    path = folder / "config_sentence_transformers.json"
    if not path.is_file():
        return {}, None
    config = read_json(path, "sentence-transformers config")
    prompts = config.get("prompts") or {}
    if not isinstance(prompts, dict) or not all(isinstance(v, str) for v in prompts.values()):
        raise CheckpointError(f"{path}: prompts: expected an object of strings, found {prompts!r}")
    default = config.get("default_prompt_name")
    if default is not None and default not in prompts:
        raise CheckpointError(
            f"{path}: default_prompt_name {default!r} is not one of the prompts "
            f"({', '.join(prompts) or 'none'})"
        )
    return dict(prompts), default


def read_pooling_stack(folder: str | os.PathLike) -> PoolingStack | None:
    """The sentence-transformers stack of `folder`, or None when it has no `modules.json`.

    Args:
        folder: a checkpoint folder (a sentence-transformers model's root).

    Raises:
        CheckpointError: a module that is not Transformer / Pooling / Dense /
            Normalize (named), a module in an unexpected order, or an unreadable config.
    """
    folder = pathlib.Path(folder)
    modules_path = folder / MODULES_FILE
    if not modules_path.is_file():
        return None
    modules = read_json(modules_path, "module list")
    if not isinstance(modules, list):
        raise CheckpointError(f"{modules_path}: expected a JSON list of modules")
    transformer_path = None
    modes: tuple[str, ...] | None = None
    dimension, include_prompt, dense, normalize = 0, True, [], False
    for index, entry in enumerate(modules):
        type_name = str(entry.get("type", "")) if isinstance(entry, dict) else ""
        kind = module_kind(type_name)
        where = f"{modules_path}: module {index} ({type_name or repr(entry)})"
        if kind is None:
            raise CheckpointError(
                f"{where}: not supported (bert-tf reproduces Transformer, Pooling, Dense and "
                "Normalize modules only)"
            )
        sub = folder / str(entry.get("path", ""))
        if kind == "Transformer":
            if index != 0:
                raise CheckpointError(f"{where}: the Transformer must be the first module")
            transformer_path = str(entry.get("path", ""))
        elif kind == "Pooling":
            if transformer_path is None or modes is not None:
                raise CheckpointError(f"{where}: Pooling must follow the Transformer, once")
            modes, dimension, include_prompt = _pooling(sub)
        elif kind == "Dense":
            if modes is None or normalize:
                raise CheckpointError(f"{where}: a Dense module must follow the Pooling")
            dense.append(_dense(sub))
        elif modes is None:
            raise CheckpointError(f"{where}: Normalize must follow the Pooling")
        else:
            normalize = True
    if transformer_path is None or modes is None:
        raise CheckpointError(f"{modules_path}: expected a Transformer and a Pooling module")
    width = dimension * len(modes)
    for layer in dense:
        if layer.in_features != width:
            raise CheckpointError(
                f"{layer.weights}: Dense in_features {layer.in_features}, expected {width} "
                "(the width before it)"
            )
        width = layer.out_features
    prompts, default_prompt_name = _prompts(folder)
    return PoolingStack(
        modes=modes,
        dimension=dimension,
        include_prompt=include_prompt,
        dense=tuple(dense),
        normalize=normalize,
        max_seq_length=_max_seq_length(folder, transformer_path),
        prompts=prompts,
        default_prompt_name=default_prompt_name,
        source=os.fspath(modules_path),
    )


def read_dense_weights(layer: DenseLayer):
    """The Dense layer's `(kernel [in, out], bias [out] or None)` as float32 numpy arrays.

    `model.safetensors` is read with `safetensors`; `pytorch_model.bin` only
    with `torch.load(weights_only=True)` (never unpickled otherwise).

    Raises:
        CheckpointError: the file is unreadable, lacks `linear.weight`, or has
            other shapes than the config.
    """
    import numpy as np

    path = layer.weights
    if path.endswith(".safetensors"):
        import safetensors.numpy

        try:
            tensors = safetensors.numpy.load_file(path)
        except Exception as e:  # safetensors raises its own error types
            raise CheckpointError(f"{path}: cannot read Dense weights ({e})") from None
    else:
        try:
            import torch
        except ImportError:
            raise CheckpointError(
                f"{path}: a pytorch_model.bin needs torch to read; convert it to "
                "model.safetensors or install torch"
            ) from None
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # torch raises many error types for a bad file
            raise CheckpointError(f"{path}: cannot read Dense weights ({e})") from None
        tensors = {key: value.float().numpy() for key, value in state.items()}
    weight = tensors.get("linear.weight")
    expected = (layer.out_features, layer.in_features)
    if weight is None or tuple(weight.shape) != expected:
        found = None if weight is None else tuple(weight.shape)
        raise CheckpointError(f"{path}: linear.weight: expected shape {expected}, found {found}")
    bias = None
    if layer.bias:
        bias = tensors.get("linear.bias")
        if bias is None or tuple(bias.shape) != (layer.out_features,):
            found = None if bias is None else tuple(bias.shape)
            raise CheckpointError(
                f"{path}: linear.bias: expected shape ({layer.out_features},), found {found}"
            )
        bias = np.asarray(bias, np.float32)
    return np.ascontiguousarray(np.asarray(weight, np.float32).T), bias
