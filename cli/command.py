"""The one way a bert-tf command line is declared and run.

A CLI module declares a `Command`: its name, its guide (the module
docstring), a table of `Flag`s and a `main(args)` that calls typed library
functions. `Command.run()` is the console script. It

1. parses and checks the flags before anything heavy is imported, so that
   `--help` and flag errors answer at once;
2. keeps TensorFlow's own logging out of the way (C++ start-up lines, CUDA
   probing, Python warnings) unless `--verbosity` is 1 or more, and shows the
   library's progress lines;
3. turns every failure into one line on stderr and an exit status:

| what happened | exit status |
| --- | --- |
| success, `--help` | 0 |
| a flag or usage error, a `BertTfError`, a `ValueError`, an `OSError`, a TensorFlow `OpError` | 1 |
| anything else (a bug; the traceback is shown with `--verbosity=1`) | 2 |
| Ctrl-C or SIGTERM before the work is done | 130 |

Once `main` has returned, the work is complete (for example the export folder
is in place): an interrupt during the interpreter's teardown no longer
changes the exit status.

Flag defaults come from one place: a flag without an explicit `default`
takes the default of the same-named field of the command's `defaults`
dataclass (the library's options), so the CLI and the Python API agree.

Examples:

>>> def hello(args):
...     print(f"hello {args.name}")
>>> greet = Command("greet", "Says hello.", hello,
...                 flags=(Flag("name", str, "Who to greet.", default="world"),))
>>> greet(["greet", "--name=BERT"])
hello BERT
0
>>> greet(["greet", "--nme=BERT"])
1
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging as std_logging
import os
import re
import signal
import sys
import tempfile
import textwrap
import traceback
import types
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_BUG = 2
EXIT_INTERRUPTED = 130

HELP_FLAGS = ("help", "helpshort", "helpfull")
_NO_DEFAULT = object()
_KINDS = {
    str: "string",
    int: "integer",
    float: "float",
    bool: "boolean",
    "enum": "enum",
    "list": "list",
}


class UsageError(Exception):
    """Wrong arguments on the command line (exit status 1, with a pointer to --help)."""


@dataclasses.dataclass(frozen=True)
class Flag:
    """One command-line flag.

    Attributes:
        name: the flag's name (`--name`).
        kind: `str`, `int`, `float`, `bool`, `"enum"` or `"list"` (comma-separated).
        help: one sentence for `--help`.
        default: the default; omitted: the field of the command's `defaults`
            dataclass with the same name (else None).
        required: the command fails with a usage error when it is not given.
        choices: the allowed values of an `"enum"` flag.
        lower_bound: the smallest allowed value of a number.
        aliases: other names of the same flag (for example TF Model Garden's).
    """

    name: str
    kind: Any
    help: str
    default: Any = _NO_DEFAULT
    required: bool = False
    choices: tuple[str, ...] = ()
    lower_bound: float | None = None
    aliases: tuple[str, ...] = ()


VERBOSITY = Flag(
    "verbosity",
    int,
    "Logging detail: -1 warnings only, 0 progress (default), 1 also TensorFlow's "
    "own log lines and warnings, 2 and more: absl debug levels.",
    default=0,
)


@dataclasses.dataclass(frozen=True)
class Command:
    """A console script: its guide, flags, positional arguments and `main`.

    Attributes:
        name: the script's name (`bert-tf-export`).
        doc: the guide `--help` prints (the CLI module's docstring).
        main: `main(args) -> exit status or None`; `args` has one attribute per
            flag and per positional argument (lower-cased). It imports the
            library it calls, so that parsing stays fast.
        flags: the command's flags.
        positional: names of the required positional arguments (`EXPORT_DIR`).
        defaults: a dataclass whose field defaults are the flags' defaults.
        interrupted: the message printed on Ctrl-C.
        passthrough_flag: a flag that, when given, lets the arguments the
            command does not know through to `args.extra_args` (a list) instead
            of failing: `bert-tf-embed --runner` hands them to Apache Beam as
            pipeline options. Without it they fail as usual. Only for commands
            without positional arguments.
        passthrough_usage: what the synopsis says of those arguments.
    """

    name: str
    doc: str
    main: Callable[[types.SimpleNamespace], int | None]
    flags: tuple[Flag, ...] = ()
    positional: tuple[str, ...] = ()
    defaults: type | None = None
    interrupted: str = "interrupted"
    passthrough_flag: str | None = None
    passthrough_usage: str = ""

    def __post_init__(self):
        if self.passthrough_flag is not None:
            if self.positional:
                raise TypeError(
                    f"{self.name}: passthrough_flag needs a command without positionals"
                )
            if self.passthrough_flag not in {flag.name for flag in self.flags}:
                raise TypeError(
                    f"{self.name}: no flag --{self.passthrough_flag} to pass through with"
                )

    def default(self, flag: Flag) -> Any:
        """`flag`'s default: its own, else the `defaults` dataclass field of its name."""
        if flag.default is not _NO_DEFAULT:
            return flag.default
        if self.defaults is not None:
            for field in dataclasses.fields(self.defaults):
                if field.name == flag.name and field.default is not dataclasses.MISSING:
                    return field.default
        return None

    @property
    def all_flags(self) -> tuple[Flag, ...]:
        return (*self.flags, VERBOSITY)

    def usage(self) -> str:
        """The one-line synopsis."""
        words = [self.name, *self.positional, "[flags]"]
        if self.passthrough_usage:
            words.append(self.passthrough_usage)
        return " ".join(words)

    def help_text(self) -> str:
        """What `--help` prints: the synopsis, the guide and every flag."""
        lines = [f"usage: {self.usage()}", "", self.doc.strip(), "", "flags:"]
        for flag in self.all_flags:
            lines.extend(_describe_flag(flag, self.default(flag)))
        return "\n".join(lines) + "\n"

    def __call__(self, argv: Sequence[str]) -> int:
        """Parses `argv` (`argv[0]` is the program) and runs `main`; returns the exit status.

        Prints `--help` or `error: ...` as the console script does; never raises
        except `SystemExit` raised by `main` itself.
        """
        try:
            args, verbosity = self._parse(list(argv))
        except UsageError as error:
            print(f"error: {error} (see --help)", file=sys.stderr, flush=True)
            return EXIT_ERROR
        if args is None:
            print(self.help_text(), end="", flush=True)
            return EXIT_OK
        configure_logging(verbosity)
        return guarded(lambda: self.main(args), interrupted=self.interrupted)

    def run(self) -> NoReturn:
        """The console script: runs with `sys.argv`, then exits with the status."""
        status = self(sys.argv)
        # The work is complete: an interrupt during teardown does not undo it.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
        sys.stdout.flush()
        sys.stderr.flush()
        sys.exit(status)

    def _parse(self, argv: list[str]) -> tuple[types.SimpleNamespace | None, int]:
        """The parsed arguments (None for a help request) and the verbosity."""
        from absl import flags

        values = self._flag_values()
        extra: list[str] = []
        try:
            if self.passthrough_flag is None:
                rest = values(argv)
            else:
                rest = values(argv, known_only=True)
                rest, extra = rest[:1], rest[1:]
                if extra and values[self.passthrough_flag].value in (None, "", False):
                    # Not passed through: the error they give without passthrough.
                    rest = self._flag_values()(argv)
        except flags.Error as error:
            raise UsageError(_first_line(error)) from None
        if any(values[name].value for name in HELP_FLAGS):
            return None, 0
        missing = [
            f"--{flag.name}"
            for flag in self.flags
            if flag.required and values[flag.name].value in (None, "", [])
        ]
        if missing:
            raise UsageError("missing " + " and ".join(missing))
        positional = rest[1:]
        if len(positional) != len(self.positional):
            if len(positional) > len(self.positional) and not self.positional:
                raise UsageError(f"unexpected arguments: {' '.join(positional)}")
            raise UsageError(f"usage: {self.usage()}")
        args = {flag.name: values[flag.name].value for flag in self.flags}
        args.update({name.lower(): value for name, value in zip(self.positional, positional)})
        if self.passthrough_flag is not None:
            args["extra_args"] = extra
        return types.SimpleNamespace(**args), values["verbosity"].value

    def _flag_values(self):
        """A fresh absl `FlagValues` holding the command's flags and the help flags."""
        from absl import flags

        values = flags.FlagValues()
        for flag in self.all_flags:
            _define(values, flag, self.default(flag))
        for name in HELP_FLAGS:
            flags.DEFINE_boolean(name, False, "Show this guide.", flag_values=values)
        return values


def _define(values, flag: Flag, default: Any) -> None:
    from absl import flags

    kind = _KINDS.get(flag.kind)
    if kind is None:
        raise TypeError(f"flag --{flag.name}: unknown kind {flag.kind!r}")
    kwargs: dict[str, Any] = {"flag_values": values}
    if flag.lower_bound is not None:
        kwargs["lower_bound"] = flag.lower_bound
    if kind == "enum":
        flags.DEFINE_enum(flag.name, default, list(flag.choices), flag.help, **kwargs)
    else:
        getattr(flags, f"DEFINE_{kind}")(flag.name, default, flag.help, **kwargs)
    for alias in flag.aliases:
        flags.DEFINE_alias(alias, flag.name, flag_values=values)


def _describe_flag(flag: Flag, default: Any) -> list[str]:
    names = f"--{flag.name}" if flag.kind is not bool else f"--[no]{flag.name}"
    if flag.aliases:
        names += " (also " + ", ".join(f"--{alias}" for alias in flag.aliases) + ")"
    details = [flag.help]
    if flag.choices:
        details.append(f"One of: {', '.join(flag.choices)}.")
    if flag.required:
        details.append("Required.")
    elif default is not None:
        shown = ",".join(default) if isinstance(default, (list, tuple)) else default
        details.append(f"Default: {shown!r}." if isinstance(shown, str) else f"Default: {shown}.")
    body = textwrap.wrap(" ".join(details), width=76)
    return [f"  {names}"] + [f"      {line}" for line in body]


# --- Logging ------------------------------------------------------------------------


class _UserFormatter(std_logging.Formatter):
    """Progress as plain lines; warnings and errors say what they are."""

    def format(self, record: std_logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno >= std_logging.WARNING:
            return f"{record.levelname.lower()}: {message}"
        return message


class _OwnLogsOnly(std_logging.Filter):
    """Drops the INFO and WARNING lines installed libraries log through absl.

    TensorFlow's SavedModel code logs through `absl.logging` like bert-tf
    does (input renames, fingerprints, sharding): the logger name cannot tell
    them apart, the source file can. Errors always pass.
    """

    def filter(self, record: std_logging.LogRecord) -> bool:
        path = record.pathname.replace(os.sep, "/")
        installed = "/site-packages/" in path or "/dist-packages/" in path
        return record.levelno >= std_logging.ERROR or not installed or "/bert_tf/" in path


def configure_logging(verbosity: int) -> None:
    """Shows the library's progress; hides TensorFlow's own logs below `verbosity` 1.

    Must run before TensorFlow is imported for the C++ log level to apply.
    """
    from absl import flags, logging

    if verbosity < 1:
        # 3 also hides the CUDA probing errors a CPU-only machine prints at import.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        std_logging.getLogger("tensorflow").setLevel(std_logging.ERROR)
        for module in ("tensorflow", "tensorflow_hub", "tf_keras", "keras"):
            warnings.filterwarnings("ignore", module=module)
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        _import_tensorflow_quietly()
    # Flags are parsed by the Command, not absl.app: say so, or absl logging
    # warns "Logging before flag parsing" on the first line.
    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()
    logging.use_absl_handler()
    logging.set_verbosity(verbosity)
    handler = logging.get_absl_handler()
    if verbosity < 1:
        handler.setFormatter(_UserFormatter())
        if not any(isinstance(f, _OwnLogsOnly) for f in handler.filters):
            handler.addFilter(_OwnLogsOnly())


def _import_tensorflow_quietly() -> None:
    """Imports TensorFlow with its native start-up lines kept off the terminal.

    TensorFlow 2.21 writes its oneDNN and CUDA-probing lines from C++ before
    absl logging is initialized, where `TF_CPP_MIN_LOG_LEVEL` does not reach:
    only the file descriptor can be silenced. What it wrote is shown if the
    import fails.
    """
    if "tensorflow" in sys.modules:
        return
    with quiet_stderr(replay_on_error=True):
        import tensorflow  # noqa: F401


@contextlib.contextmanager
def quiet_stderr(*, replay_on_error: bool = False) -> Iterator[None]:
    """Sends file descriptor 2 to a temporary file while the block runs.

    What native code and child processes write there (which Python's logging
    settings cannot reach: TensorFlow's C++ start-up lines, Apache Beam's
    worker processes) stays off the terminal. With `replay_on_error`, it is
    written out if the block raises.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            sys.stderr.flush()
            os.dup2(saved, 2)
            if replay_on_error:
                sink.seek(0)
                sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


# --- Errors -------------------------------------------------------------------------


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _op_error_summary(message: str) -> str:
    """The cause and the failing node of a TensorFlow runtime error, on one line."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    causes = [
        line
        for line in lines
        if not line.startswith(("[[", "Detected at node", "Graph execution error"))
    ]
    nodes = re.findall(r"\{\{node ([^}]+)\}\}", message)
    summary = causes[-1] if causes else lines[0] if lines else "unknown error"
    return f"{summary} (node {nodes[-1]})" if nodes else summary


def error_message(error: BaseException) -> tuple[str, int]:
    """The one-line message and exit status for `error`."""
    from bert_tf.errors import BertTfError

    if isinstance(error, UsageError):
        return f"{_first_line(error)} (see --help)", EXIT_ERROR
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
            return (
                f"TensorFlow {type(error).__name__}: {_op_error_summary(error.message)}",
                EXIT_ERROR,
            )
    return (
        f"unexpected {type(error).__name__}: {_first_line(error)} "
        "(rerun with --verbosity=1 for the traceback)"
    ), EXIT_BUG


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def guarded(work: Callable[[], int | None], *, interrupted: str = "interrupted") -> int:
    """Runs `work()`; returns its exit status, printing `error: ...` on failure.

    SIGTERM is handled like Ctrl-C while `work` runs, so that the library's
    clean-up (temporary folders) runs for both.
    """
    from absl import logging

    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return work() or EXIT_OK
    except SystemExit:
        raise
    except KeyboardInterrupt:
        print(f"error: {interrupted}", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except BaseException as error:  # pylint: disable=broad-except
        message, status = error_message(error)
        if status == EXIT_BUG:
            logging.vlog(1, "%s", traceback.format_exc())
        print(f"error: {message}", file=sys.stderr, flush=True)
        return status
    finally:
        signal.signal(signal.SIGTERM, previous)
