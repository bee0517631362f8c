"""Reading the JSON files that come with a checkpoint, with one-line errors."""

from __future__ import annotations

import json
import os
from typing import Any

from bert_tf.errors import CheckpointError


def read_json(path: os.PathLike | str, what: str) -> Any:
    """The parsed JSON object or list in `path`.

    Args:
        path: the file.
        what: what the file is, for the message (`"Pooling config"`).

    Raises:
        CheckpointError: the file cannot be read, is not JSON, or holds neither
            an object nor a list; the message names the file.
    """
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read the {what} ({e.strerror})") from None
    except ValueError as e:
        raise CheckpointError(f"{path}: the {what} is not valid JSON ({e})") from None
    if not isinstance(value, (dict, list)):
        raise CheckpointError(
            f"{path}: the {what}: expected a JSON object, found {type(value).__name__}"
        )
    return value
