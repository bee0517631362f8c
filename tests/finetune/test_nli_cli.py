"""The command line: usage guide, one-line errors with exit status 1."""

import pytest

from conftest import run_cli


def test_help_is_the_usage_guide():
    process = run_cli("--help")  # absl exits with status 1 after printing help
    assert "Traceback" not in process.stderr
    for text in ("bert-tf-finetune --export_dir=", "--mixed_precision", "--strategy", "serving_default"):
        assert text in process.stdout


@pytest.mark.parametrize("args,message", [
    (["--train=x.tsv", "--output_dir=out"], "error: --export_dir is required (see --help)"),
    (["--export_dir=e", "--train=t", "--output_dir=o", "--batch_size=many"],
     "error: flag --batch_size=many: invalid literal for int() with base 10: 'many'"),
    (["--export_dir=e", "--train={bad}", "--output_dir=o"], "error: {bad}:3: label 'maybe' is not one of entailment, neutral, contradiction"),
])
def test_errors_are_one_line(tmp_path, args, message):
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tb\tneutral\n\na\tb\tmaybe\n")
    values = dict(bad=bad)
    process = run_cli(*[a.format(**values) for a in args])
    assert process.returncode == 1
    assert "Traceback" not in process.stderr
    lines = process.stderr.strip().splitlines()
    assert lines[-1].startswith(message.format(**values)), process.stderr[-2000:]
