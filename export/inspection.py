r"""What an exported encoder + preprocessing pair holds (`bert-tf-inspect`).

`inspect_export(DIR)` loads both SavedModels and describes their signatures
(inputs and outputs with dtypes and shapes), the callable sub-objects (`mlm`,
`tokenize`, `bert_pack_inputs`, ...), the special tokens, and, for exports
written by bert-tf, the `ExportMetadata` (config, tokenizer settings, the
parity figures measured at export). `format_inspection` renders it for people.
Works on any TF Hub BERT pair (encoder/ + preprocess/).
"""

from __future__ import annotations

import dataclasses
import os

from bert_tf import interface

_CALLABLES = {
    interface.ENCODER_DIR: (interface.MLM_ENDPOINT, interface.NSP_ENDPOINT),
    interface.PREPROCESS_DIR: interface.PREPROCESS_CALLABLES,
}


@dataclasses.dataclass(frozen=True)
class Inspection:
    """An export's description.

    Attributes:
        export_dir: the folder's absolute path.
        signatures: part (the pair's, then the optional folders present) ->
            signature name -> {"inputs", "outputs"} -> name -> "dtype [shape]".
        callables: part -> the callable attributes it has.
        special_tokens: `preprocess.tokenize.get_special_tokens_dict()`, or None.
        metadata: the bert-tf metadata, or None for another TF Hub pair.
    """

    export_dir: str
    signatures: dict[str, dict[str, dict[str, dict[str, str]]]]
    callables: dict[str, list[str]]
    special_tokens: dict[str, int] | None
    metadata: interface.ExportMetadata | None


def _spec(spec) -> str:
    shape = "[" + ", ".join("?" if d is None else str(d) for d in spec.shape) + "]"
    return f"{spec.dtype.name} {shape}"


def _signature(function) -> dict[str, dict[str, str]]:
    inputs = function.structured_input_signature[1]
    outputs = function.structured_outputs
    return {
        "inputs": {name: _spec(spec) for name, spec in sorted(inputs.items())},
        "outputs": {name: _spec(spec) for name, spec in sorted(outputs.items())},
    }


def inspect_export(export_dir: os.PathLike | str) -> Inspection:
    """Loads an export and describes it.

    Raises:
        ExportDirError: not an export folder.
    """
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the ops preprocess/ uses)

    layout = interface.check_export_dir(export_dir)
    signatures, callables, loaded = {}, {}, {}
    # The pair, then whichever optional folders (embedding/, a task folder) exist.
    optional = (interface.EMBEDDING_DIR, *interface.TASK_DIRS)
    parts = [*interface.PARTS, *(p for p in optional if layout.part(p).is_dir())]
    for part in parts:
        obj = tf.saved_model.load(os.fspath(layout.part(part)))
        loaded[part] = obj
        signatures[part] = {name: _signature(fn) for name, fn in sorted(obj.signatures.items())}
        callables[part] = [name for name in _CALLABLES.get(part, ()) if hasattr(obj, name)]
    tokenize = getattr(loaded[interface.PREPROCESS_DIR], "tokenize", None)
    special = getattr(tokenize, "get_special_tokens_dict", None)
    return Inspection(
        export_dir=os.fspath(layout.root.absolute()),
        signatures=signatures,
        callables=callables,
        special_tokens={k: int(v) for k, v in special().items()} if special else None,
        metadata=interface.read_metadata(layout.root),
    )


def _describe_signatures(info: Inspection) -> list[str]:
    lines = []
    for part in info.signatures:
        lines.append(f"\n{part}/")
        for name, sig in info.signatures[part].items():
            lines.append(f"  signature {name!r}:")
            lines += [f"    in   {k}: {v}" for k, v in sig["inputs"].items()]
            lines += [f"    out  {k}: {v}" for k, v in sig["outputs"].items()]
        if info.callables[part]:
            lines.append("  callables: " + ", ".join(info.callables[part]))
    if info.special_tokens is not None:
        lines.append(
            "\nspecial tokens: "
            + ", ".join(f"{k}={v}" for k, v in sorted(info.special_tokens.items()))
        )
    return lines


def _describe_embedding(stack) -> str:
    if stack is None:
        return "embedding/: none (no sentence-transformers stack)"
    parts = [" + ".join(stack["modes"]) + " pooling"]
    parts += [
        f"Dense {d['in_features']}->{d['out_features']} {d['activation']}" for d in stack["dense"]
    ]
    parts += ["Normalize"] if stack["normalize"] else []
    prompts = ", ".join(stack["prompts"]) or "none"
    return (
        f"embedding/: {' + '.join(parts)}, max_seq_length {stack['max_seq_length']}, "
        f"prompts: {prompts} (from {stack['source']})"
    )


def _describe_metadata(meta: interface.ExportMetadata) -> list[str]:
    tok, ver = meta.tokenizer, meta.verification
    lines = [
        f"\nsource: {meta.source.checkpoint} ({meta.source.format})",
        "config: " + ", ".join(f"{k}={v}" for k, v in meta.config.items()),
        f"tokenizer: do_lower_case={tok.do_lower_case}, strip_accents={tok.strip_accents}, "
        f"tokenize_chinese_chars={tok.tokenize_chinese_chars} (from {tok.source})",
        f"default_seq_length: {meta.default_seq_length}, "
        f"mlm: {'yes' if meta.with_mlm else 'no'}, "
        f"nsp: {'yes' if meta.with_nsp else 'no'}, "
        f"serving XLA: {'yes' if meta.serving_jit_compile else 'no'}, "
        f"precision: {meta.precision}",
        _describe_embedding(meta.embedding),
        f"task: {meta.task}/ with labels {', '.join(meta.labels)}" if meta.task else "task: none",
        f"verified on {ver.texts} texts at seq_length {ver.seq_length}, "
        "max abs diff to the in-memory float32 model:",
    ]
    lines += [f"  {k}: {v:.2e}" for k, v in sorted(ver.max_abs_diff.items())]
    lines.append(f"  (largest output magnitude {ver.max_abs_output:.3g})")
    if ver.min_cosine is not None:
        lines.append(
            f"  mean-pooled cosine to the float32 model: at least {ver.min_cosine:.6f} "
            f"(gate {ver.cosine_gate})"
        )
    return lines


def format_inspection(info: Inspection) -> str:
    """`inspect_export`'s result as text for people."""
    lines = [f"Export {info.export_dir}", *_describe_signatures(info)]
    if info.metadata is None:
        lines.append("\n(no bert-tf metadata: config and verification figures unknown)")
    else:
        lines += _describe_metadata(info.metadata)
    return "\n".join(lines)
