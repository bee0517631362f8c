"""Hugging Face BERT checkpoints: the name table and the readers.

Weights: `model.safetensors` (read with `safetensors`' numpy API, memory-mapped,
no torch needed), `pytorch_model.bin` (`torch.load(weights_only=True)`, never a
full unpickle), or a sharded `*.index.json` of either. Names are matched after
`canonical_name`: an optional `bert.` prefix is dropped (`BertForPreTraining`
writes it, `BertModel` and sentence-transformers do not) and the old
`LayerNorm.gamma` / `LayerNorm.beta` read as `.weight` / `.bias`. PyTorch
`Linear` weights are `[out, in]`, the transpose of our kernels.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

import numpy as np

from bert_tf.checkpoints.files import shard_files
from bert_tf.checkpoints.tables import Format, Rule
from bert_tf.errors import CheckpointError

_LAYER = "encoder.layer.{i}"


def _linear(target: str, source: str) -> tuple[Rule, Rule]:
    return (
        Rule(f"{target}/kernel", (f"{source}.weight",), transpose=True),
        Rule(f"{target}/bias", (f"{source}.bias",)),
    )


def _layer_norm(target: str, source: str) -> tuple[Rule, Rule]:
    return (
        Rule(f"{target}/gamma", (f"{source}.weight",)),
        Rule(f"{target}/beta", (f"{source}.bias",)),
    )


RULES = (
    Rule("embeddings/word_embeddings", ("embeddings.word_embeddings.weight",)),
    Rule("embeddings/position_embeddings", ("embeddings.position_embeddings.weight",)),
    Rule("embeddings/type_embeddings", ("embeddings.token_type_embeddings.weight",)),
    *_layer_norm("embeddings/layer_norm", "embeddings.LayerNorm"),
    *_linear("layer_{i}/attention/query", f"{_LAYER}.attention.self.query"),
    *_linear("layer_{i}/attention/key", f"{_LAYER}.attention.self.key"),
    *_linear("layer_{i}/attention/value", f"{_LAYER}.attention.self.value"),
    *_linear("layer_{i}/attention/output", f"{_LAYER}.attention.output.dense"),
    *_layer_norm("layer_{i}/attention/layer_norm", f"{_LAYER}.attention.output.LayerNorm"),
    *_linear("layer_{i}/intermediate", f"{_LAYER}.intermediate.dense"),
    *_linear("layer_{i}/output", f"{_LAYER}.output.dense"),
    *_layer_norm("layer_{i}/output/layer_norm", f"{_LAYER}.output.LayerNorm"),
    *_linear("pooler", "pooler.dense"),
    *_linear("mlm/transform", "cls.predictions.transform.dense"),
    *_layer_norm("mlm/layer_norm", "cls.predictions.transform.LayerNorm"),
    Rule("mlm/output_bias", ("cls.predictions.bias", "cls.predictions.decoder.bias")),
    *_linear("nsp", "cls.seq_relationship"),
)

IGNORED = (
    (r"^embeddings\.(position_ids|token_type_ids)$", "buffer, not a weight"),
    (r"^cls\.predictions\.decoder\.weight$", "tied to the word embeddings"),
)


def canonical_name(name: str) -> str:
    """`bert.x` -> `x`; `LayerNorm.gamma/beta` -> `LayerNorm.weight/bias`."""
    if name.startswith("bert."):
        name = name[len("bert.") :]
    return re.sub(
        r"LayerNorm\.gamma$",
        "LayerNorm.weight",
        re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", name),
    )


FORMAT = Format(name="huggingface", rules=RULES, ignored=IGNORED, canonical_name=canonical_name)


class SafetensorsReader:
    """Reads `model.safetensors` (or its shards) tensor by tensor.

    Only the headers are kept open between reads: each `read` maps the file,
    copies one tensor out and unmaps it, so the file's pages never pile up in
    the process's resident memory next to the variables they fill.
    """

    def __init__(self, path: str, shards: Sequence[str] | None = None):
        """`path`: the weights file or shard index; `shards`: its files (default: found)."""
        self.path = str(path)
        self._file_of = {}
        self._shape = {}
        self._dtype = {}
        for file in shards or shard_files(self.path):
            with self._open(file) as handle:
                for name in handle.keys():
                    tensor = handle.get_slice(name)
                    self._file_of[name] = file
                    self._shape[name] = tuple(tensor.get_shape())
                    self._dtype[name] = tensor.get_dtype()

    @staticmethod
    def _open(file: str):
        from safetensors import SafetensorError, safe_open

        try:
            return safe_open(file, framework="numpy")
        except (SafetensorError, OSError) as e:
            raise CheckpointError(
                f"cannot read safetensors file {file} (truncated or corrupt?): "
                f"{type(e).__name__}: {str(e).strip().splitlines()[0]}"
            ) from None

    reads_rows = True

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return dict(self._shape)

    def read(self, name: str, rows: slice | None = None) -> np.ndarray:
        file = self._file_of[name]
        if self._dtype[name] == "BF16":
            return _read_bfloat16(file, name, rows)  # numpy has no bfloat16.
        with self._open(file) as handle:
            if rows is None:
                return np.asarray(handle.get_tensor(name))
            return np.asarray(handle.get_slice(name)[rows])  # Reads only those rows.


def _read_bfloat16(file: str, name: str, rows: slice | None = None) -> np.ndarray:
    """One BF16 tensor of a safetensors file (or rows of it), as float32.

    The format is documented: an 8-byte little-endian header size, a JSON
    header, then the raw data, row-major.
    """
    with open(file, "rb") as f:
        header_size = int.from_bytes(f.read(8), "little")
        entry = json.loads(f.read(header_size))[name]
        start, end = entry["data_offsets"]
        shape = list(entry["shape"])
        if rows is not None:
            row_bytes = 2 * int(np.prod(shape[1:]))
            first, stop, _ = rows.indices(shape[0])
            start, end = start + first * row_bytes, start + max(stop, first) * row_bytes
            shape[0] = max(stop, first) - first
        f.seek(8 + header_size + start)
        raw = np.frombuffer(f.read(end - start), dtype="<u2")
    return (raw.astype(np.uint32) << 16).view(np.float32).reshape(shape)


class TorchBinReader:
    """Reads `pytorch_model.bin` (or its shards) with `torch.load(weights_only=True)`."""

    def __init__(self, path: str, shards: Sequence[str] | None = None):
        """`path`: the weights file or shard index; `shards`: its files (default: found)."""
        self.path = str(path)
        self._shards = list(shards or shard_files(self.path))
        try:
            import torch
        except ImportError:
            raise CheckpointError(
                f"{self.path} is a PyTorch file and reading it needs torch, which is not "
                f"installed: pip install torch (or convert it to model.safetensors)"
            ) from None
        self._torch = torch
        self._tensors = {}
        for file in self._shards:
            self._tensors.update(self._load(file))

    def _load(self, file):
        torch = self._torch
        try:
            try:  # Memory-mapped: tensors are read when used.
                state = torch.load(file, map_location="cpu", weights_only=True, mmap=True)
            except FileNotFoundError:
                raise
            except Exception:  # Legacy (non-zip) files cannot be mapped; a damaged one
                # fails here too, and the plain load names the actual problem.
                state = torch.load(file, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise CheckpointError(f"checkpoint file not found: {file}") from None
        except Exception as e:  # torch raises RuntimeError, UnpicklingError, EOFError, ...
            raise CheckpointError(
                f"cannot read PyTorch file {file} (truncated or corrupt file, or not a plain "
                f"state dict?): {type(e).__name__}: {str(e).strip().splitlines()[0]}"
            ) from None
        if not isinstance(state, dict) or not all(
            isinstance(v, torch.Tensor) for v in state.values()
        ):
            raise CheckpointError(f"{file}: expected a state dict of tensors")
        return state

    reads_rows = True  # Slices of memory-mapped tensors.

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {name: tuple(t.shape) for name, t in self._tensors.items()}

    def read(self, name: str, rows: slice | None = None) -> np.ndarray:
        tensor = self._tensors[name]
        if rows is not None:
            tensor = tensor[rows]  # A view: mapped files read only those rows.
        if tensor.dtype in (self._torch.bfloat16, self._torch.float16):
            tensor = tensor.float()
        return tensor.numpy()
