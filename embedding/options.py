"""The embedding options and their defaults: the one table `embed`, `embed_file` and
`bert-tf-embed` share. Imports nothing heavy.

>>> DEFAULTS.pooling, DEFAULTS.batch_size
(None, 32)
"""

from __future__ import annotations

import dataclasses

from bert_tf import interface
from bert_tf.errors import BertTfError

# sentence-transformers' modes, and `pooled` (the encoder's tanh pooler over [CLS]).
POOLINGS = (
    "mean",
    "cls",
    *(m for m in interface.POOLING_MODES if m not in ("mean", "cls")),
    "pooled",
)

# The Apache Beam runners of `bert-tf-embed --runner` (`bert_tf.embedding.beam`).
RUNNERS = (
    "DirectRunner",
    "PrismRunner",
    "DataflowRunner",
    "FlinkRunner",
    "SparkRunner",
    "PortableRunner",
)


class EmbedError(BertTfError, ValueError):
    """Bad arguments or input for embedding (one line, names the problem)."""


@dataclasses.dataclass(frozen=True)
class EmbedOptions:
    """How texts become vectors (see `bert_tf.embedding.embed`).

    Attributes:
        pooling: one of `POOLINGS`; None: the export's own stack (its
            `embedding/` pooling), else `mean`. Given, it replaces the stack's
            pooling and drops its Dense layers.
        normalize: scale each vector to unit L2 norm; None: as the export's
            stack says, else no.
        prompt_name: the export's prompt to prepend (`query`, ...); None: its
            default prompt, if any.
        batch_size: texts per encoder call.
        max_seq_length: tokens per text, `[CLS]` and `[SEP]` included; None:
            the stack's `max_seq_length`, else the export's `default_seq_length`.
        json_field: files only: read JSON lines and embed this field.
        chunk_lines: files only: lines read, sorted by length and embedded at a time.
    """

    pooling: str | None = None
    normalize: bool | None = None
    prompt_name: str | None = None
    batch_size: int = 32
    max_seq_length: int | None = None
    json_field: str | None = None
    chunk_lines: int = 8192


DEFAULTS = EmbedOptions()
