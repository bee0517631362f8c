"""Every console script as installed: `--help` is a guide on stdout, exit status 0.

The scripts are the ones `pip install` put beside this interpreter (`.venv/bin/`),
the way a user starts them, not `python -m`.
"""

from __future__ import annotations

import configparser
import importlib
import pathlib
import re
import subprocess
import sys

import pytest

from bert_tf import cli

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent


def _console_scripts() -> dict[str, str]:
    """setup.cfg's console scripts: name -> `module:function`."""
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    lines = config["options.entry_points"]["console_scripts"].strip().splitlines()
    return dict(tuple(part.strip() for part in line.split("=")) for line in lines)


SCRIPTS = _console_scripts()


def _flag_names(module: str) -> list[str]:
    command = importlib.import_module(module).COMMAND
    return [f"--[no]{f.name}" if f.kind is bool else f"--{f.name}" for f in command.all_flags]


def test_every_cli_module_has_a_console_script():
    modules = {target.split(":")[0] for target in SCRIPTS.values()}
    assert modules == {f"bert_tf.cli.{name}" for name in cli.COMMAND_MODULES}
    for name, target in SCRIPTS.items():
        module, function = target.split(":")
        command = importlib.import_module(module).COMMAND
        assert command.name == name
        assert function == "run" and importlib.import_module(module).run == command.run


@pytest.mark.parametrize("flag", ["--help", "--helpfull"])
@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_installed_script_help_lists_every_flag(script, flag):
    path = BIN / script
    assert path.exists(), f"{path} is not installed: run `make venv`"
    result = subprocess.run([path, flag], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == ""  # no TensorFlow start-up lines, no warnings
    assert result.stdout.startswith(f"usage: {script} ")
    for name in _flag_names(SCRIPTS[script].split(":")[0]):
        assert re.search(rf"^  {re.escape(name)}( \(also --\w+\))?$", result.stdout, re.M), name


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_help_and_flag_errors_do_not_import_tensorflow(script):
    module = SCRIPTS[script].split(":")[0]
    probe = (
        f"import sys; from {module} import COMMAND; "
        f"codes = [COMMAND(['{script}', '--help']), COMMAND(['{script}', '--no_such_flag'])]; "
        "assert codes == [0, 1], codes; "
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "error: Unknown command line flag 'no_such_flag' (see --help)" in result.stderr


@pytest.mark.parametrize(
    "args,message",
    [
        (["--no_such_flag"], "error: Unknown command line flag 'no_such_flag' (see --help)"),
        (["-h"], "error: Unknown command line flag 'h' (see --help)"),  # absl has no -h
        (
            ["--batch_size=0"],
            "error: flag --batch_size=0: 0 is not a positive integer (see --help)",
        ),
        # `-h` as a flag's value: the command runs and fails; that failure is kept.
        (["--export_dir", "-h"], "error: missing --input and --output (see --help)"),
    ],
)
def test_errors_are_not_turned_into_help(args, message):
    result = subprocess.run(
        [BIN / "bert-tf-embed", *args], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert message in result.stderr
