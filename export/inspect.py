r"""bert-tf-inspect: what an exported encoder + preprocessing pair holds.

Prints the signatures of `encoder/` and `preprocess/` (inputs and outputs with
dtypes and shapes), the callable sub-objects (`mlm`, `tokenize`,
`bert_pack_inputs`, ...), the config, the vocab size and special tokens, the
tokenizer settings, and the parity figures measured when the export was
verified (from the export's model card data).

Examples:

  bert-tf-inspect exports/all-MiniLM-L6-v2
  python -m export.inspect exports/all-MiniLM-L6-v2

Works on any TF Hub BERT pair (encoder/ + preprocess/); the config and figures
are shown for exports written by bert-tf.

As a library: `inspect_export(DIR) -> dict`, `format_inspection(dict) -> str`.
"""

from __future__ import annotations

import os
import pathlib
from typing import Any

from absl import app

from export import cli
from export.errors import ExportedModelError

_CALLABLES = {"encoder": ("mlm",),
              "preprocess": ("tokenize", "tokenize_with_offsets", "bert_pack_inputs")}


def check_export_dir(export_dir: os.PathLike | str) -> pathlib.Path:
    """Returns `export_dir` as a path if it holds `encoder/` and `preprocess/` SavedModels.

    Raises:
        ExportedModelError: the folder or one of its SavedModels is missing.
    """
    path = pathlib.Path(export_dir)
    if not path.is_dir():
        raise ExportedModelError(f"{path}: no such export folder")
    for part in ("encoder", "preprocess"):
        if not (path / part / "saved_model.pb").is_file():
            raise ExportedModelError(f"{path}: not a bert-tf export: no {part}/saved_model.pb")
    return path


def _spec(spec) -> str:
    shape = "[" + ", ".join("?" if d is None else str(d) for d in spec.shape) + "]"
    return f"{spec.dtype.name} {shape}"


def _signature(function) -> dict[str, dict[str, str]]:
    inputs = function.structured_input_signature[1]
    outputs = function.structured_outputs
    return {"inputs": {name: _spec(spec) for name, spec in sorted(inputs.items())},
            "outputs": {name: _spec(spec) for name, spec in sorted(outputs.items())}}


def inspect_export(export_dir: os.PathLike | str) -> dict[str, Any]:
    """Loads an export and describes it.

    Returns:
        A dict: `signatures` (part -> signature name -> inputs/outputs),
        `callables` (part -> attribute names present), `special_tokens`, and
        `metadata` (the bert-tf export metadata, or None).

    Raises:
        ExportedModelError: not an export folder.
    """
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the ops preprocess/ uses)

    from export import model_card

    path = check_export_dir(export_dir)
    info: dict[str, Any] = {"export_dir": os.fspath(path.absolute()), "signatures": {},
                            "callables": {}}
    loaded = {}
    for part in ("encoder", "preprocess"):
        obj = tf.saved_model.load(os.fspath(path / part))
        loaded[part] = obj
        info["signatures"][part] = {name: _signature(fn)
                                    for name, fn in sorted(obj.signatures.items())}
        info["callables"][part] = [name for name in _CALLABLES[part] if hasattr(obj, name)]
    tokenize = getattr(loaded["preprocess"], "tokenize", None)
    special = getattr(tokenize, "get_special_tokens_dict", None)
    info["special_tokens"] = ({k: int(v) for k, v in special().items()}
                              if special is not None else None)
    info["metadata"] = model_card.read_metadata(path)
    return info


def format_inspection(info: dict[str, Any]) -> str:
    """`inspect_export`'s result as text for people."""
    lines = [f"Export {info['export_dir']}"]
    meta = info["metadata"]
    for part in ("encoder", "preprocess"):
        lines.append(f"\n{part}/")
        for name, sig in info["signatures"][part].items():
            lines.append(f"  signature {name!r}:")
            lines += [f"    in   {k}: {v}" for k, v in sig["inputs"].items()]
            lines += [f"    out  {k}: {v}" for k, v in sig["outputs"].items()]
        if info["callables"][part]:
            lines.append("  callables: " + ", ".join(info["callables"][part]))
    if info["special_tokens"] is not None:
        lines.append("\nspecial tokens: " + ", ".join(
            f"{k}={v}" for k, v in sorted(info["special_tokens"].items())))
    if meta is None:
        lines.append("\n(no bert-tf metadata: config and verification figures unknown)")
        return "\n".join(lines)
    lines.append(f"\nsource: {meta['source']['checkpoint']} ({meta['source']['format']})")
    lines.append("config: " + ", ".join(f"{k}={v}" for k, v in meta["config"].items()))
    tok = meta["tokenizer"]
    lines.append(f"tokenizer: do_lower_case={tok['do_lower_case']}, "
                 f"strip_accents={tok['strip_accents']}, "
                 f"tokenize_chinese_chars={tok['tokenize_chinese_chars']} (from {tok['source']})")
    lines.append(f"default_seq_length: {meta['default_seq_length']}, "
                 f"mlm: {'yes' if meta['with_mlm'] else 'no'}, serving XLA: "
                 f"{'yes' if meta['serving_jit_compile'] else 'no'}")
    ver = meta["verification"]
    lines.append(f"verified on {ver['texts']} texts at seq_length {ver['seq_length']}, "
                 "max abs diff to the in-memory model:")
    lines += [f"  {k}: {v:.2e}" for k, v in sorted(ver["max_abs_diff"].items())]
    if "max_abs_output" in ver:
        lines.append(f"  (largest output magnitude {ver['max_abs_output']:.3g})")
    return "\n".join(lines)


def main(argv) -> int:
    if len(argv) != 2:
        raise app.UsageError("usage: bert-tf-inspect EXPORT_DIR")
    check_export_dir(argv[1])
    print(format_inspection(inspect_export(argv[1])))
    return 0


def run() -> None:
    """The `bert-tf-inspect` console script."""
    cli.run(main)


if __name__ == "__main__":
    run()
