"""Package attributes imported on first use (PEP 562), so that importing a package is cheap.

The CLIs import `bert_tf.<package>.options` to declare their flags; with
eager package `__init__`s that would import TensorFlow (seconds) before
`--help` could answer.

>>> __getattr__, __dir__ = exports("bert_tf.interface_example", {"dumps": "json"})
>>> __getattr__("dumps")({"a": 1})
'{"a": 1}'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def exports(
    package: str, names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`, giving each of `names` from its module.

    Args:
        package: the package's `__name__`, for error messages.
        names: attribute name -> the module that defines it.
    """

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(names[name]), name)

    def __dir__() -> list[str]:
        return sorted(names)

    return __getattr__, __dir__
