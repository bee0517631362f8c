"""The errors bert_tf raises.

Every error's `str()` is one line that names the file, variable or field, and
the expected and found values, so a CLI can print `error: <message>` and exit
with status 1 instead of showing a traceback.
"""


class BertTfError(Exception):
    """Base class of every error raised on purpose by bert-tf."""


class ConfigError(BertTfError, ValueError):
    """A model config (or preset) is invalid or cannot be read."""


class CheckpointError(BertTfError):
    """A checkpoint cannot be found, read, or does not fit the model.

    Attributes:
        report: the `LoadReport` of the failed load when the checkpoint was read
            far enough to build one, else None.
    """

    def __init__(self, message: str, *, report=None):
        super().__init__(message)
        self.report = report


class CheckpointMismatchError(CheckpointError):
    """A checkpoint reads, but its variables do not fit the config (shapes, layers, heads)."""


class OutputError(BertTfError):
    """An output (folder or file) cannot be written; nothing was left in its place."""
