"""The options of one export, with their defaults: the one table the CLI and `export_pair` share.

Imports nothing heavy, so that `bert-tf-export --help` answers at once.

>>> ExportOptions().default_seq_length
128
"""

from __future__ import annotations

import dataclasses

from bert_tf import interface


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
        overwrite: replace an existing output folder once the new one is verified.
        serving_jit_compile: XLA-compile the `serving_default` and `tokens` signatures.
        embedding_pooling: write `embedding/` with this pooling (one of
            `POOLING_MODES`); for a sentence-transformers checkpoint it replaces
            the checkpoint's pooling (and drops its Dense layers). None: the
            checkpoint's own stack, or no `embedding/` for a plain BERT checkpoint.
        embedding_normalize: scale `embedding/`'s vectors to unit length; None:
            as the checkpoint's stack says (no for a plain BERT checkpoint).
    """

    config: str | None = None
    vocab_file: str | None = None
    do_lower_case: bool | None = None
    default_seq_length: int = interface.DEFAULT_SEQ_LENGTH
    with_mlm: bool = False
    overwrite: bool = False
    serving_jit_compile: bool = True
    embedding_pooling: str | None = None
    embedding_normalize: bool | None = None


DEFAULTS = ExportOptions()
