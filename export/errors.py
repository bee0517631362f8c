"""The error `bert_tf.export` raises on purpose.

A `bert_tf.errors.BertTfError`, so every CLI prints it as one line
(`error: <message>`) with exit status 1. A folder that is not an export is
`bert_tf.interface.ExportDirError`; an output that cannot be written is
`bert_tf.errors.OutputError`.
"""

from bert_tf.errors import BertTfError


class ExportError(BertTfError):
    """An export cannot be built or does not verify; nothing was left at its output."""
