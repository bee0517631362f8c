"""Every command line's `--help`: a usage guide on stdout and exit status 0."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("module,expected", [
    ("export.embed", "--pooling"),
    ("export.inspect", "bert-tf-inspect exports/"),
    ("export.fill_mask", "--top_k"),
    ("export.demo", "--export_dir"),
])
@pytest.mark.parametrize("flag", ["--help", "--helpfull"])
def test_help_exits_with_status_0(module, expected, flag):
    result = subprocess.run([sys.executable, "-m", module, flag], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert expected in result.stdout


@pytest.mark.parametrize("args,message", [
    (["--no_such_flag"], "error: Unknown command line flag 'no_such_flag' (see --help)"),
    (["-h"], "error: Unknown command line flag 'h' (see --help)"),  # absl has no -h
    (["--batch_size=0"], "error: flag --batch_size=0: 0 is not a positive integer (see --help)"),
    # `-h` as a flag's value: the command runs and fails; that failure is kept.
    (["--export_dir", "-h"], "error: missing --input and --output (see --help)"),
])
def test_errors_are_not_turned_into_help(args, message):
    result = subprocess.run([sys.executable, "-m", "bert_tf.cli.embed", *args], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert message in result.stderr
