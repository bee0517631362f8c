"""The options of one export, with their defaults: the one table the CLI and `export_pair` share.

Imports nothing heavy, so that `bert-tf-export --help` answers at once.

>>> ExportOptions().default_seq_length
128
"""

from __future__ import annotations

import dataclasses

from bert_tf import interface
from bert_tf import precision as precisions


@dataclasses.dataclass(frozen=True)
class ExportOptions:
    """How `export_pair` builds an export (see `bert-tf-export --help` for each).

    Attributes:
        config: a config file or a preset name; None: the config beside the checkpoint.
        vocab_file: None: the `vocab.txt` beside the checkpoint.
        do_lower_case: None: from `tokenizer_config.json`, the preset, the
            checkpoint's name or the vocab (the choice is logged).
        default_seq_length: the `seq_length` of `preprocess(strings)`.
        with_mlm: also export the masked-LM head as `encoder.mlm`.
        with_nsp: also export the next-sentence head as `encoder.nsp`.
        overwrite: replace an existing output folder once the new one is verified.
        serving_jit_compile: XLA-compile the `serving_default` and `tokens`
            signatures; None: for float32 exports only (on CPU, XLA runs the
            bfloat16 encoder slower than TensorFlow's oneDNN kernels).
        precision: the encoder's compute precision, one of
            `bert_tf.precision.PRECISIONS`; `bfloat16` runs the matmuls in
            bfloat16 with float32 variables, LayerNorm, softmax and outputs.
        embedding_pooling: write `embedding/` with this pooling (one of
            `POOLING_MODES`); for a sentence-transformers checkpoint it replaces
            the checkpoint's pooling (and drops its Dense layers). None: the
            checkpoint's own stack, or no `embedding/` for a plain BERT checkpoint.
        embedding_normalize: scale `embedding/`'s vectors to unit length; None:
            as the checkpoint's stack says (no for a plain BERT checkpoint).
        task: the task head to export as a string-in folder (one of
            `bert_tf.interface.TASK_DIRS`); None: the head the checkpoint holds,
            if any (`bert_tf.tasks.heads.find_task`).
        labels: the head's label names in logit order; None: the checkpoint's
            `id2label`, else `LABEL_0`, `LABEL_1`, ...
        qa_seq_length: `question_answerer/`'s window length; None: google's
            `run_squad.py` 384, or the config's `max_position_embeddings` if smaller.
        qa_doc_stride: context wordpieces from one window's start to the next's.
        qa_max_query_length: the question's wordpieces kept.
        qa_max_answer_length: the longest answer, in wordpieces.
    """

    config: str | None = None
    vocab_file: str | None = None
    do_lower_case: bool | None = None
    default_seq_length: int = interface.DEFAULT_SEQ_LENGTH
    with_mlm: bool = False
    with_nsp: bool = False
    overwrite: bool = False
    serving_jit_compile: bool | None = None
    precision: str = precisions.FLOAT32
    embedding_pooling: str | None = None
    embedding_normalize: bool | None = None
    task: str | None = None
    labels: tuple[str, ...] | None = None
    qa_seq_length: int | None = None
    qa_doc_stride: int = 128
    qa_max_query_length: int = 64
    qa_max_answer_length: int = 15

    @property
    def jit_compile(self) -> bool:
        """Whether the serving signatures are XLA-compiled (`serving_jit_compile` resolved)."""
        if self.serving_jit_compile is None:
            return self.precision == precisions.FLOAT32
        return self.serving_jit_compile


DEFAULTS = ExportOptions()
