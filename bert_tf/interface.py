"""The export contract: every name, shape and path of a bert-tf export folder, in one place.

The reference for users is `docs/interface.md`; this module is the code that
every producer (`bert_tf.export`) and consumer (`bert_tf.embedding`,
`bert_tf.finetune`, the CLIs, the tests) reads those names from, so they are
spelled once. It imports no TensorFlow at module level (the CLIs check an
export folder before TensorFlow loads).

    OUT/
      encoder/      SavedModel: ENCODER_INPUTS -> ENCODER_OUTPUTS (+ `mlm`)
        assets.extra/bert_tf_export.json   the ExportMetadata
      preprocess/   SavedModel: strings -> ENCODER_INPUTS (tf-text), vocab asset
      embedding/    SavedModel: strings -> EMBEDDING_OUTPUT [batch, dim] (only with a
                    pooling stack: a sentence-transformers checkpoint, or asked for)
      README.md     the model card

Examples:

>>> ENCODER_INPUTS
('input_word_ids', 'input_mask', 'input_type_ids')
>>> flat_output_name(0)
'encoder_outputs_0'
>>> import tempfile
>>> check_export_dir(tempfile.mkdtemp())  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
bert_tf.interface.ExportDirError: ...: not a bert-tf export: no encoder/saved_model.pb
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
from collections.abc import Mapping
from typing import Any

from bert_tf.errors import BertTfError

# --- Folder layout --------------------------------------------------------------------

ENCODER_DIR = "encoder"
PREPROCESS_DIR = "preprocess"
EMBEDDING_DIR = "embedding"
MODEL_CARD = "README.md"
# Task folders (strings in, task outputs out; `bert_tf.tasks`), one per fine-tuned head.
CLASSIFIER_DIR = "classifier"
TOKEN_CLASSIFIER_DIR = "token_classifier"
QUESTION_ANSWERER_DIR = "question_answerer"
MULTIPLE_CHOICE_DIR = "multiple_choice"
TASK_DIRS = (CLASSIFIER_DIR, TOKEN_CLASSIFIER_DIR, QUESTION_ANSWERER_DIR, MULTIPLE_CHOICE_DIR)
# The metadata lives beside the encoder SavedModel, where TF Serving allows extra files.
METADATA_PATH = ("encoder", "assets.extra", "bert_tf_export.json")
SAVED_MODEL_FILE = "saved_model.pb"
PARTS = (ENCODER_DIR, PREPROCESS_DIR)

# --- encoder/ ------------------------------------------------------------------------

INPUT_WORD_IDS = "input_word_ids"
INPUT_MASK = "input_mask"
INPUT_TYPE_IDS = "input_type_ids"
ENCODER_INPUTS = (INPUT_WORD_IDS, INPUT_MASK, INPUT_TYPE_IDS)

POOLED_OUTPUT = "pooled_output"
SEQUENCE_OUTPUT = "sequence_output"
ENCODER_OUTPUTS = "encoder_outputs"
DEFAULT_OUTPUT = "default"
OUTPUTS = (POOLED_OUTPUT, SEQUENCE_OUTPUT, ENCODER_OUTPUTS, DEFAULT_OUTPUT)

MLM_ENDPOINT = "mlm"
MLM_POSITIONS = "masked_lm_positions"
MLM_LOGITS = "mlm_logits"

NSP_ENDPOINT = "nsp"
NSP_LOGITS = "nsp_logits"

SERVING_SIGNATURE = "serving_default"
TOKENS_SIGNATURE = "tokens"
# The legacy TF1 Hub `tokens` signature's input names -> ours, and its outputs.
TOKENS_INPUTS = {
    "input_ids": INPUT_WORD_IDS,
    "input_mask": INPUT_MASK,
    "segment_ids": INPUT_TYPE_IDS,
}
TOKENS_OUTPUTS = (POOLED_OUTPUT, SEQUENCE_OUTPUT)

# --- embedding/ ----------------------------------------------------------------------

EMBEDDING_OUTPUT = "embedding"
# sentence-transformers' pooling modes, in the order it concatenates them.
POOLING_MODES = ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")
EMBEDDING_INPUT = "text"
# Each prompt's signature is this prefix plus the prompt's name.
PROMPT_SIGNATURE_PREFIX = "prompt_"

# --- preprocess/ ---------------------------------------------------------------------

PREPROCESS_CALLABLES = ("tokenize", "tokenize_with_offsets", "bert_pack_inputs")
PREPROCESS_SERVING_INPUT = "text"
DEFAULT_SEQ_LENGTH = 128
SPECIAL_TOKENS = {
    "start_of_sequence_id": "[CLS]",
    "end_of_segment_id": "[SEP]",
    "padding_id": "[PAD]",
    "mask_id": "[MASK]",
}
SPECIAL_TOKEN_KEYS = ("vocab_size", *SPECIAL_TOKENS)


def flat_output_name(layer: int) -> str:
    """The `serving_default` output name of transformer block `layer` (0-based)."""
    return f"{ENCODER_OUTPUTS}_{layer}"


def flat_outputs(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The encoder's dict with its `encoder_outputs` list flattened as `serving_default` has it."""
    flat = {key: value for key, value in outputs.items() if key != ENCODER_OUTPUTS}
    for index, layer_output in enumerate(outputs[ENCODER_OUTPUTS]):
        flat[flat_output_name(index)] = layer_output
    return flat


def int_spec(name: str):
    """An int32 `[batch, seq_length]` `tf.TensorSpec` (both dims dynamic) named `name`."""
    import tensorflow as tf  # Only the callers that build graphs pay for the import.

    return tf.TensorSpec([None, None], tf.int32, name=name)


def encoder_input_spec() -> dict:
    """The encoder's input signature: `ENCODER_INPUTS`, int32 `[batch, seq_length]`."""
    return {key: int_spec(key) for key in ENCODER_INPUTS}


def mlm_input_spec() -> dict:
    """The `mlm` endpoint's input signature: the encoder's plus `masked_lm_positions`."""
    return {**encoder_input_spec(), MLM_POSITIONS: int_spec(MLM_POSITIONS)}


# --- Checking a folder ---------------------------------------------------------------


class ExportDirError(BertTfError, ValueError):
    """A folder is not a bert-tf export, or lacks a part or endpoint that was asked for."""


@dataclasses.dataclass(frozen=True)
class ExportLayout:
    """The paths of one export folder.

    Attributes:
        root: the export folder.
    """

    root: pathlib.Path

    @property
    def encoder_dir(self) -> pathlib.Path:
        return self.root / ENCODER_DIR

    @property
    def preprocess_dir(self) -> pathlib.Path:
        return self.root / PREPROCESS_DIR

    @property
    def embedding_dir(self) -> pathlib.Path:
        return self.root / EMBEDDING_DIR

    @property
    def has_embedding(self) -> bool:
        return (self.embedding_dir / SAVED_MODEL_FILE).is_file()

    @property
    def model_card(self) -> pathlib.Path:
        return self.root / MODEL_CARD

    @property
    def metadata_file(self) -> pathlib.Path:
        return self.root.joinpath(*METADATA_PATH)

    def part(self, name: str) -> pathlib.Path:
        return self.root / name


def check_export_dir(export_dir: os.PathLike | str, parts: tuple[str, ...] = PARTS) -> ExportLayout:
    """Returns the layout of `export_dir` if it holds the SavedModels named by `parts`.

    Args:
        export_dir: an export folder (written by `bert-tf-export`).
        parts: the SavedModel sub-folders that must be present.

    Raises:
        ExportDirError: the folder or one of the SavedModels is missing; the
            message names the folder and the missing part.
    """
    path = pathlib.Path(export_dir)
    if not path.is_dir():
        raise ExportDirError(
            f"{path}: no such export folder (expected a folder holding "
            f"{' and '.join(p + '/' for p in parts)})"
        )
    for part in parts:
        if not (path / part / SAVED_MODEL_FILE).is_file():
            raise ExportDirError(f"{path}: not a bert-tf export: no {part}/{SAVED_MODEL_FILE}")
    return ExportLayout(path)


def check_part_dir(path: os.PathLike | str, part: str) -> pathlib.Path:
    """Returns the `part` SavedModel folder that `path` names: the part itself or its export.

    Args:
        path: an export's `encoder/` or `preprocess/` folder, or the export folder.
        part: `ENCODER_DIR` or `PREPROCESS_DIR`.

    Raises:
        ExportDirError: `path` holds neither a SavedModel nor an export with
            `part`; the message names the folder and what it lacks.
    """
    path = pathlib.Path(path)
    if not path.is_dir():
        raise ExportDirError(
            f"{path}: no such folder (expected an export's {part}/ SavedModel or the export)"
        )
    if (path / SAVED_MODEL_FILE).is_file():
        return path
    if (path / part / SAVED_MODEL_FILE).is_file():
        return path / part
    raise ExportDirError(
        f"{path}: not a bert-tf export: no {SAVED_MODEL_FILE} and no {part}/{SAVED_MODEL_FILE}"
    )


# --- Metadata ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SourceInfo:
    """Where an export's weights, config and vocab came from."""

    checkpoint: str
    format: str
    weights: str
    sha256: dict[str, str]
    config_source: str
    vocab_file: str
    preset: str | None = None
    preset_description: str | None = None
    language: str | None = None


@dataclasses.dataclass(frozen=True)
class TokenizerInfo:
    """The tokenizer settings of `preprocess/` and why they were chosen."""

    do_lower_case: bool
    strip_accents: bool
    tokenize_chinese_chars: bool
    source: str


@dataclasses.dataclass(frozen=True)
class VerificationInfo:
    """What the reload check measured before the export was renamed into place.

    Attributes:
        texts: how many texts ran through the loaded pair.
        seq_length: the packed length of the preprocessing check.
        encoder_seq_length: the length the encoder endpoints ran at.
        special_tokens: `get_special_tokens_dict()` of the loaded `preprocess/`.
        max_abs_diff: endpoint -> the largest difference of any output to the
            float32 in-memory model.
        max_abs_output: the largest output magnitude, for scale.
        precision: the encoder's precision (`bert_tf.precision.PRECISIONS`).
        relative_tolerance: the allowed max abs difference of each output, as a
            fraction of that output's scale (its largest magnitude, at least 1).
        min_cosine: the smallest cosine similarity, over texts and endpoints, of
            the mask-aware mean-pooled `sequence_output` to the float32 model's
            (None in exports written before it was measured).
        cosine_gate: the smallest `min_cosine` the export accepted.
        bfloat16_rounding: for a bfloat16 encoder, how the exporting host's
            TensorFlow CPU MatMul rounded its bfloat16 results: "nearest" (as
            bfloat16 hardware and XLA do) or "toward_zero" (CPUs without
            bfloat16 instructions; `cosine_gate` is then the lower gate for that
            rounding); None for float32.
        xla_min_cosine: with "toward_zero" rounding, `min_cosine` of an
            XLA-compiled run of the saved `__call__` (rounds to nearest); else None.
        xla_cosine_gate: the smallest `xla_min_cosine` the export accepted.
    """

    texts: int
    seq_length: int
    encoder_seq_length: int
    special_tokens: dict[str, int]
    max_abs_diff: dict[str, float]
    max_abs_output: float
    precision: str = "float32"
    relative_tolerance: float = 1e-4
    min_cosine: float | None = None
    cosine_gate: float | None = None
    bfloat16_rounding: str | None = None
    xla_min_cosine: float | None = None
    xla_cosine_gate: float | None = None


@dataclasses.dataclass(frozen=True)
class ExportMetadata:
    """Everything the model card and `bert-tf-inspect` show; written into every export.

    Stored as JSON at `METADATA_PATH`; `read_metadata` gives it back typed.
    Fields with a default were added later: metadata written without them
    reads back with the default (`precision`: such exports are float32).
    """

    name: str
    bert_tf_version: str
    source: SourceInfo
    config: dict[str, Any]
    tokenizer: TokenizerInfo
    special_tokens: dict[str, int]
    default_seq_length: int
    with_mlm: bool
    serving_jit_compile: bool
    load_report: str
    verification: VerificationInfo
    export_seconds: float
    precision: str = "float32"
    # The `embedding/` pooling stack (`bert_tf.checkpoints.sentence_transformers.PoolingStack`
    # as a dict), or None when the export has no `embedding/`.
    embedding: dict[str, Any] | None = None
    # The task folder written beside the pair (one of `TASK_DIRS`) and its
    # label names in logit order; None / () without one.
    task: str | None = None
    labels: tuple[str, ...] = ()
    # `encoder.nsp`, the next-sentence head (`--with_nsp`).
    with_nsp: bool = False
    # `question_answerer/`'s windows: seq_length, doc_stride, max_query_length,
    # max_answer_length (`bert_tf.tasks.question_answerer.Windows`).
    qa_windows: dict[str, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExportMetadata:
        nested = {
            "source": SourceInfo,
            "tokenizer": TokenizerInfo,
            "verification": VerificationInfo,
        }
        values = {}
        for field in dataclasses.fields(cls):
            if field.name not in data and field.default is not dataclasses.MISSING:
                continue  # A field added later: older exports get its default.
            value = data[field.name]
            if field.name in nested:
                value = _from_dict(nested[field.name], value)
            values[field.name] = value
        return cls(**values)


def _from_dict(cls, data: Mapping[str, Any]):
    names = {field.name for field in dataclasses.fields(cls)}
    return cls(**{key: value for key, value in data.items() if key in names})


def write_metadata(export_dir: os.PathLike | str, metadata: ExportMetadata) -> pathlib.Path:
    """Writes `metadata` into the export folder `export_dir`; returns the file's path."""
    path = ExportLayout(pathlib.Path(export_dir)).metadata_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(metadata.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return path


def read_metadata(export_dir: os.PathLike | str) -> ExportMetadata | None:
    """The export's metadata, or None for a TF Hub pair not written by bert-tf.

    Raises:
        ExportDirError: the metadata file exists but is not valid.
    """
    path = ExportLayout(pathlib.Path(export_dir)).metadata_file
    if not path.is_file():
        return None
    try:
        return ExportMetadata.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as error:
        raise ExportDirError(f"{path}: not valid bert-tf export metadata ({error!r})") from None
