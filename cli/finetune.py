r"""Fine-tune an exported BERT pair for NLI, then export it for serving.

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

Data files may be MultiNLI / SNLI / XNLI JSON
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

The same run in Keras 3 (the classifier built on `bert_tf.keras3`'s
`EncoderLayer`; same data, recipe, checkpoints, resume and `classifier/`):

  bert-tf-finetune ... --keras=3

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

from bert_tf.cli.command import Command, Flag
from bert_tf.finetune.config import (
    DEFAULT_EPOCHS,
    DEFAULT_LABELS,
    DEFAULT_SEGMENTS,
    MIXED_PRECISION,
    STRATEGIES,
    TrainConfig,
)

FLAGS = (
    Flag(
        "export_dir",
        str,
        "Export folder with encoder/ and preprocess/ (from bert-tf-export).",
        required=True,
    ),
    Flag("train", str, "Training data: JSON lines, header TSV or plain TSV.", required=True),
    Flag("eval", str, "Evaluation data, evaluated after each epoch (optional)."),
    Flag(
        "output_dir",
        str,
        "Run folder: checkpoints, eval results, exported classifier.",
        required=True,
    ),
    Flag("seq_length", int, "Packed sequence length.", lower_bound=1),
    Flag("batch_size", int, "Global batch size (all replicas together).", lower_bound=1),
    Flag(
        "epochs",
        int,
        f"Passes over the training data (default {DEFAULT_EPOCHS} unless --steps).",
        lower_bound=1,
    ),
    Flag("steps", int, "Optimizer steps, instead of --epochs.", lower_bound=1),
    Flag("learning_rate", float, "Peak learning rate of AdamW."),
    Flag("warmup_fraction", float, "Fraction of the steps with linear warmup."),
    Flag("weight_decay", float, "Decoupled weight decay (not on LayerNorm or bias)."),
    Flag("dropout", float, "Dropout rate on the pooled output.", default=TrainConfig.dropout_rate),
    Flag(
        "encoder_dropout",
        bool,
        "Run the encoder's own dropout while training (--noencoder_dropout: off).",
    ),
    Flag("strategy", "enum", "tf.distribute strategy.", default="default", choices=STRATEGIES),
    Flag(
        "tpu",
        str,
        "TPU name or grpc:// address for --strategy=tpu ('' or 'local' on a TPU VM).",
        default="",
    ),
    Flag("mixed_precision", "enum", "Mixed-precision policy of the head.", choices=MIXED_PRECISION),
    Flag("jit_compile", bool, "Compile the training step with XLA."),
    Flag("seed", int, "Seed of the head's weights, dropout and the data order."),
    Flag("labels", "list", "Class names, in output order.", default=list(DEFAULT_LABELS)),
    Flag(
        "segment_names",
        "list",
        "Names of the text segments (2 or more), in packing order.",
        default=list(DEFAULT_SEGMENTS),
    ),
    Flag("checkpoint_every", int, "Save a checkpoint every this many steps.", lower_bound=1),
    Flag("progress", bool, "Show a progress bar.", default=True),
    Flag(
        "keras",
        "enum",
        "Keras of the classifier: 2 (hub.KerasLayer, tf_keras) or 3 (bert_tf.keras3 layers).",
        default="2",
        choices=("2", "3"),
    ),
)


def main(args) -> int:
    from bert_tf.finetune.nli import finetune_nli

    config = TrainConfig(
        seq_length=args.seq_length,
        batch_size=args.batch_size,
        epochs=DEFAULT_EPOCHS if args.epochs is None and args.steps is None else args.epochs,
        steps=args.steps,
        learning_rate=args.learning_rate,
        warmup_fraction=args.warmup_fraction,
        weight_decay=args.weight_decay,
        dropout_rate=args.dropout,
        encoder_dropout=args.encoder_dropout,
        mixed_precision=args.mixed_precision,
        jit_compile=args.jit_compile,
        seed=args.seed,
        checkpoint_every=args.checkpoint_every,
        segment_names=tuple(args.segment_names),
        labels=tuple(args.labels),
        progress=args.progress,
        keras=int(args.keras),
    )
    result = finetune_nli(
        args.export_dir,
        args.train,
        args.output_dir,
        config,
        eval_path=args.eval,
        strategy=args.strategy,
        tpu=args.tpu,
    )
    if result.accuracy is not None:
        print(
            f"accuracy {result.accuracy:.4f} at step {result.step}; "
            f"classifier: {result.classifier_dir}"
        )
    return 0


COMMAND = Command(
    "bert-tf-finetune",
    __doc__,
    main,
    flags=FLAGS,
    defaults=TrainConfig,
    interrupted="interrupted: rerun the same command to resume from the last checkpoint",
)
run = COMMAND.run

if __name__ == "__main__":
    run()
