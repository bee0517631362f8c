r"""bert-tf-finetune: fine-tune an exported BERT pair for NLI, then export it for serving.

Reads an export (`bert-tf-export` writes it: `EXPORT/encoder` and
`EXPORT/preprocess`), trains a classifier on premise/hypothesis pairs and writes:

  OUT/checkpoints/        tf.train checkpoints (every --checkpoint_every steps)
  OUT/eval_results.json   accuracy, per-class precision/recall after each epoch
  OUT/run_config.json     the settings a resumed run must match
  OUT/classifier/         SavedModel: serving_default(premise, hypothesis)
                          -> probabilities, label

Fine-tune all-MiniLM-L6-v2 on MultiNLI (JSON lines) for 2 epochs:

  bert-tf-finetune --export_dir=exports/all-MiniLM-L6-v2 \
      --train=multinli_1.0_train.jsonl --eval=multinli_1.0_dev_matched.jsonl \
      --output_dir=runs/mnli --epochs=2 --batch_size=32 --learning_rate=3e-5

Same with `python -m finetune`. Data files may be MultiNLI / SNLI / XNLI JSON
lines (`sentence1`, `sentence2`, `gold_label`), GLUE-style TSV with a header
(MNLI `train.tsv`, SNLI `snli_1.0_train.txt`, XNLI `xnli.dev.tsv`), or plain
`premise<TAB>hypothesis<TAB>label` TSV. Rows labelled `-` are skipped and
counted. Other label sets: --labels=not_entailment,entailment (RTE/QNLI).

A run that stops (killed, preempted) resumes from its last checkpoint when
started again with the same command, skipping the batches it had seen; changed
settings are refused. With --noencoder_dropout the resumed run ends with the
same weights, bit for bit, as an uninterrupted one (the encoder's own dropout
state lives in its SavedModel and restarts with the process).

Fixed number of steps and bfloat16 mixed precision (the head computes in
bfloat16; the exported encoder keeps its float32 computation):

  bert-tf-finetune --export_dir=EXPORT --train=train.tsv --eval=dev.tsv \
      --output_dir=runs/x --steps=2000 --mixed_precision=mixed_bfloat16

--jit_compile compiles each step with XLA. On TF 2.21, XLA treats the
variables of a loaded SavedModel as compile-time constants, so it recompiles
after every update: correct, but slow; leave it off unless your TF fixes that.

Every local GPU (MirroredStrategy), several machines (set TF_CONFIG on each),
or a Cloud TPU:

  bert-tf-finetune ... --strategy=mirrored
  bert-tf-finetune ... --strategy=multi_worker
  bert-tf-finetune ... --strategy=tpu --tpu=my-tpu-name

Three segments (premise + hypothesis + context): a plain TSV with three text
columns before the label, and --segment_names=premise,hypothesis,context; the
exported signature then takes the three names.

Use the exported classifier:

  import tensorflow as tf, tensorflow_text
  classify = tf.saved_model.load("runs/mnli/classifier").signatures["serving_default"]
  classify(premise=tf.constant(["A dog runs."]), hypothesis=tf.constant(["An animal moves."]))

Errors (bad data rows, missing files, bad flags) print one line `error: ...`
and exit with status 1.
"""

from __future__ import annotations

import os
import re
import sys

from absl import app, flags, logging

from export import cli

FLAGS = flags.FLAGS

flags.DEFINE_string("export_dir", None, "Export folder with encoder/ and preprocess/ (from bert-tf-export).")
flags.DEFINE_string("train", None, "Training data: JSON lines, header TSV or plain TSV.")
flags.DEFINE_string("eval", None, "Evaluation data, evaluated after each epoch (optional).")
flags.DEFINE_string("output_dir", None, "Run folder: checkpoints, eval results, exported classifier.")
flags.DEFINE_integer("seq_length", 128, "Packed sequence length.")
flags.DEFINE_integer("batch_size", 32, "Global batch size (all replicas together).")
flags.DEFINE_integer("epochs", None, "Passes over the training data (default 3 unless --steps).")
flags.DEFINE_integer("steps", None, "Optimizer steps, instead of --epochs.")
flags.DEFINE_float("learning_rate", 2e-5, "Peak learning rate of AdamW.")
flags.DEFINE_float("warmup_fraction", 0.1, "Fraction of the steps with linear warmup.")
flags.DEFINE_float("weight_decay", 0.01, "Decoupled weight decay (not on LayerNorm or bias).")
flags.DEFINE_float("dropout", 0.1, "Dropout rate on the pooled output.")
flags.DEFINE_bool("encoder_dropout", True, "Run the encoder's own dropout while training (--noencoder_dropout: off).")
flags.DEFINE_enum("strategy", "default", ["default", "mirrored", "multi_worker", "tpu"], "tf.distribute strategy.")
flags.DEFINE_string("tpu", "", "TPU name or grpc:// address for --strategy=tpu ('' or 'local' on a TPU VM).")
flags.DEFINE_enum("mixed_precision", "none", ["none", "mixed_float16", "mixed_bfloat16"], "Mixed-precision policy of the head.")
flags.DEFINE_bool("jit_compile", False, "Compile the training step with XLA.")
flags.DEFINE_integer("seed", 0, "Seed of the head's weights, dropout and the data order.")
flags.DEFINE_list("labels", ["entailment", "neutral", "contradiction"], "Class names, in output order.")
flags.DEFINE_list("segment_names", ["premise", "hypothesis"], "Names of the text segments (2 or more), in packing order.")
flags.DEFINE_integer("checkpoint_every", 500, "Save a checkpoint every this many steps.")
flags.DEFINE_bool("progress", True, "Show a progress bar.")

_REQUIRED = ("export_dir", "train", "output_dir")


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    for name in _REQUIRED:
        if not FLAGS[name].value:
            raise app.UsageError(f"--{name} is required")
    # Create the strategy first: multi-worker and TPU setups must precede other TF work.
    from finetune import data, serving, strategy, train

    distribution = strategy.make_strategy(FLAGS.strategy, FLAGS.tpu)
    labels = tuple(FLAGS.labels)
    train_data = data.read_nli(FLAGS.train, labels)
    logging.info("%s: %d examples (%s), %d without gold label skipped.",
                 FLAGS.train, len(train_data.examples), train_data.format, train_data.skipped)
    eval_data = data.read_nli(FLAGS.eval, labels) if FLAGS.eval else None
    config = train.TrainConfig(
        seq_length=FLAGS.seq_length,
        batch_size=FLAGS.batch_size,
        epochs=FLAGS.epochs if FLAGS.epochs is not None or FLAGS.steps is not None else 3,
        steps=FLAGS.steps,
        learning_rate=FLAGS.learning_rate,
        warmup_fraction=FLAGS.warmup_fraction,
        weight_decay=FLAGS.weight_decay,
        dropout_rate=FLAGS.dropout,
        encoder_dropout=FLAGS.encoder_dropout,
        mixed_precision=FLAGS.mixed_precision,
        jit_compile=FLAGS.jit_compile,
        seed=FLAGS.seed,
        checkpoint_every=FLAGS.checkpoint_every,
        segment_names=tuple(FLAGS.segment_names),
        labels=labels,
        progress=FLAGS.progress,
    )
    result = train.train(FLAGS.export_dir, train_data, FLAGS.output_dir, config, eval_data=eval_data, strategy=distribution)
    if train.is_chief(distribution):
        path = serving.export_classifier(
            result.packer, result.classifier, labels, os.path.join(FLAGS.output_dir, "classifier"),
            segment_names=config.segment_names, overwrite=True,
        )
        logging.info("Exported the classifier to %s.", path)
        if result.evaluations:
            print(f"accuracy {result.evaluations[-1]['accuracy']:.4f} at step {result.step}; classifier: {path}")


def _main_with_errors(argv: list[str]) -> None:
    import tensorflow as tf

    from bert_tf.errors import BertTfError

    try:
        main(argv)
    except app.UsageError as e:
        _fail(f"{e} (see --help)")
    except (BertTfError, OSError) as e:
        _fail(str(e))
    except tf.errors.OpError as e:
        # E.g. a third segment on an encoder with type_vocab_size 2.
        _fail(f"TensorFlow {type(e).__name__}: {_op_error_summary(e.message)}")


def _op_error_summary(message: str) -> str:
    """The cause and the failing node of a TensorFlow runtime error, on one line."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    causes = [line for line in lines if not line.startswith(("[[", "Detected at node", "Graph execution error"))]
    nodes = re.findall(r"\{\{node ([^}]+)\}\}", message)
    summary = causes[-1] if causes else lines[0] if lines else "unknown error"
    return f"{summary} (node {nodes[-1]})" if nodes else summary


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


def run() -> None:
    """Console-script entry point (`bert-tf-finetune`)."""
    cli.run_app(_main_with_errors)


if __name__ == "__main__":
    run()
