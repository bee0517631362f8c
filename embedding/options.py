"""The embedding options and their defaults: the one table `embed`, `embed_file` and
`bert-tf-embed` share. Imports nothing heavy.

>>> DEFAULTS.pooling, DEFAULTS.batch_size
('mean', 32)
"""

from __future__ import annotations

import dataclasses

from bert_tf.errors import BertTfError

POOLINGS = ("mean", "cls", "pooled")


class EmbedError(BertTfError, ValueError):
    """Bad arguments or input for embedding (one line, names the problem)."""


@dataclasses.dataclass(frozen=True)
class EmbedOptions:
    """How texts become vectors (see `bert_tf.embedding.embed`).

    Attributes:
        pooling: one of `POOLINGS`.
        normalize: scale each vector to unit L2 norm.
        batch_size: texts per encoder call.
        max_seq_length: tokens per text, `[CLS]` and `[SEP]` included; None:
            the export's `default_seq_length`.
        json_field: files only: read JSON lines and embed this field.
        chunk_lines: files only: lines read, sorted by length and embedded at a time.
    """

    pooling: str = "mean"
    normalize: bool = False
    batch_size: int = 32
    max_seq_length: int | None = None
    json_field: str | None = None
    chunk_lines: int = 8192


DEFAULTS = EmbedOptions()
