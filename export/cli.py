"""What every bert-tf command line does around its work: quiet TF, one-line errors, exit codes.

`guarded(main)` runs a CLI's `main(argv)` and turns every failure into one line
on stderr, `error: <message>`, and a non-zero exit status, never a traceback:

| failure | exit status |
| --- | --- |
| `BertTfError` (bad checkpoint, config, vocab, output folder, verification) | 1 |
| a usage error (missing or unexpected arguments) | 1 |
| a preprocessing `ValueError`, an `OSError`, a TensorFlow `OpError` | 1 |
| Ctrl-C (`KeyboardInterrupt`) or SIGTERM | 130 |
| anything else (a bug: the traceback is logged at `--verbosity=1`) | 2 |

`--help` (and `--helpshort`, `--helpfull`) prints the usage guide and exits
with status 0 (`run_app`; absl alone exits with 1); a bad flag prints one line,
`error: ...`, and exits with status 1.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from typing import Callable, Sequence

EXIT_ERROR = 1
EXIT_BUG = 2
EXIT_INTERRUPTED = 130


def quiet_tensorflow() -> None:
    """Hides TensorFlow's C++ start-up chatter unless the user asked for it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def error_message(error: BaseException) -> tuple[str, int]:
    """The one-line message and exit status for `error`."""
    from absl import app

    from bert_tf.errors import BertTfError

    if isinstance(error, app.UsageError):
        return _first_line(error), error.exitcode
    if isinstance(error, KeyboardInterrupt):
        return "interrupted: nothing was written", EXIT_INTERRUPTED
    if isinstance(error, BertTfError):
        return _first_line(error), EXIT_ERROR
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{error.strerror or _first_line(error)}", EXIT_ERROR
    if isinstance(error, ValueError):
        return _first_line(error), EXIT_ERROR
    if "tensorflow" in sys.modules:
        import tensorflow as tf

        if isinstance(error, tf.errors.OpError):
            return _first_line(error), EXIT_ERROR
    return (f"unexpected {type(error).__name__}: {_first_line(error)} "
            "(rerun with --verbosity=1 for the traceback)"), EXIT_BUG


def run(main: Callable[[Sequence[str]], int | None]) -> None:
    """Runs a CLI whose module defines its absl flags and `main(argv)`: parse, run guarded, exit.

    Started as a console script (`bert-tf-export`), `__main__` is the script
    wrapper: its `--help` then shows `main`'s module docstring and flags.
    """
    from absl import flags

    quiet_tensorflow()
    module = sys.modules[main.__module__]
    script = sys.modules["__main__"]
    if script is not module:
        if not script.__doc__:
            script.__doc__ = module.__doc__
        for flag in flags.FLAGS.get_key_flags_for_module(module.__name__):
            flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    run_app(lambda argv: sys.exit(guarded(main, argv)))


def parse_flags(argv: Sequence[str]) -> list[str]:
    """absl flag parsing for our CLIs: `--help` exits 0, a bad flag is one line and exits 1.

    absl's help flags (`--help`, `--helpshort`, `--helpfull`, `--helpxml`, `-?`)
    print the usage guide and exit from inside the parsing with status 1; here
    that exit becomes 0 (help is not an error). A flag error (unknown flag,
    bad value, failed validator) prints `error: <message>` and exits 1.
    """
    from absl import flags

    try:
        return flags.FLAGS(list(argv))
    except flags.Error as error:
        print(f"error: {_first_line(error)} (see --help)", file=sys.stderr, flush=True)
        sys.exit(EXIT_ERROR)
    except SystemExit as exit_:  # Only the help flags exit from inside the parsing.
        sys.exit(0 if exit_.code == EXIT_ERROR else exit_.code)


def run_app(main: Callable[[Sequence[str]], None]) -> None:
    """`absl.app.run(main)` with `parse_flags`: `--help` exits 0, flag errors are one line."""
    from absl import app

    app.run(main, flags_parser=parse_flags)


def guarded(main: Callable[[Sequence[str]], int | None], argv: Sequence[str]) -> int:
    """Runs `main(argv)`; returns its exit status, printing `error: ...` on failure."""
    from absl import logging

    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return main(argv) or 0
    except SystemExit:
        raise
    except BaseException as error:  # pylint: disable=broad-except
        message, status = error_message(error)
        if status == EXIT_BUG:
            logging.vlog(1, "%s", traceback.format_exc())
        print(f"error: {message}", file=sys.stderr, flush=True)
        return status
    finally:
        signal.signal(signal.SIGTERM, previous)
