"""The command line: usage guide, one-line errors with exit status 1."""

import pytest
import tensorflow as tf
from finetune_helpers import run_cli

from bert_tf.cli.command import _op_error_summary


def test_help_is_the_usage_guide():
    process = run_cli("--help")
    assert "Traceback" not in process.stderr
    assert process.returncode == 0
    for text in (
        "bert-tf-finetune --export_dir=",
        "--mixed_precision",
        "--strategy",
        "serving_default",
    ):
        assert text in process.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["--train=x.tsv", "--output_dir=out"], "error: missing --export_dir (see --help)"),
        (
            ["--export_dir=e", "--train=t", "--output_dir=o", "--batch_size=many"],
            "error: flag --batch_size=many: invalid literal for int() with base 10: 'many'",
        ),
        (
            ["--export_dir=e", "--train={bad}", "--output_dir=o"],
            "error: {bad}:3: label 'maybe' is not one of entailment, neutral, contradiction",
        ),
    ],
)
def test_errors_are_one_line(tmp_path, args, message):
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tb\tneutral\n\na\tb\tmaybe\n")
    values = dict(bad=bad)
    process = run_cli(*[a.format(**values) for a in args])
    assert process.returncode == 1
    assert "Traceback" not in process.stderr
    lines = process.stderr.strip().splitlines()
    assert lines[-1].startswith(message.format(**values)), process.stderr[-2000:]


def test_too_many_segments_is_one_line(tiny_export_dir, tmp_path):
    """Four segments on an export whose bert_pack_inputs is traced for 1 to 3."""
    data = tmp_path / "four.tsv"
    data.write_text("a b.\tc d.\te f.\tg h.\tneutral\n" * 16)
    process = run_cli(
        f"--export_dir={tiny_export_dir}",
        f"--train={data}",
        f"--output_dir={tmp_path / 'out'}",
        "--segment_names=a,b,c,d",
        "--steps=1",
        "--batch_size=8",
        "--seq_length=16",
    )
    assert process.returncode == 1
    assert "Traceback" not in process.stderr
    assert process.stderr.strip().splitlines()[-1] == (
        f"error: {tiny_export_dir / 'preprocess'}: bert_pack_inputs is not exported for 4 segments "
        "(a, b, c, d); exports trace 1 to max_num_segments (3 by default)"
    )


def test_tensorflow_runtime_errors_are_summarized_on_one_line():
    """What the CLI prints for a TF runtime error, e.g. a token type id beyond type_vocab_size."""
    table = tf.Variable(tf.zeros([2, 4]))

    @tf.function
    def lookup(ids):
        return tf.gather(table, ids)

    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        lookup(tf.constant([[0, 2]]))
    summary = _op_error_summary(error.value.message)
    assert "\n" not in summary
    assert summary.startswith("indices[0,1] = 2 is not in [0, 2)"), summary
