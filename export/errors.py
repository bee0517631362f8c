"""The errors `export` raises on purpose.

Each is a `bert_tf.errors.BertTfError`, so every CLI prints it as one line
(`error: <message>`) with exit status 1.
"""

from bert_tf.errors import BertTfError


class ExportError(BertTfError):
    """An export cannot be written or does not verify; nothing was left at its output."""


class ExportedModelError(BertTfError):
    """An exported folder is missing a part or a capability that was asked for."""
