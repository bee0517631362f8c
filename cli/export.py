r"""A BERT checkpoint -> a verified TF Hub encoder + preprocessing pair.

Writes OUTPUT_DIR/encoder (the Keras encoder SavedModel), OUTPUT_DIR/preprocess
(the tf-text preprocessing SavedModel), OUTPUT_DIR/README.md (the model
card) and, for a sentence-transformers checkpoint (or with
--embedding_pooling), OUTPUT_DIR/embedding: strings in, the model's own
sentence vectors out (pooling, Dense layers, Normalize and prompts as its
modules.json says). The SavedModels are loaded back and checked on a few
texts before the folder is renamed into place; on any error nothing is left at OUTPUT_DIR.
The folder's interface is described in docs/interface.md.

Examples:

  # A Hugging Face / sentence-transformers folder (format and casing detected):
  bert-tf-export --checkpoint=path/to/all-MiniLM-L6-v2 --output_dir=exports/minilm

  # A google-research TF1 checkpoint, with the masked-LM head for fill-mask:
  bert-tf-export --checkpoint=uncased_L-12_H-768_A-12/bert_model.ckpt \
      --output_dir=exports/bert_base --with_mlm

  # The config as a preset name, a different vocab, forced casing:
  bert-tf-export --checkpoint=ckpt_dir --config=bert_cased_L-12_H-768_A-12 \
      --vocab_file=my_vocab.txt --nodo_lower_case --output_dir=exports/x

  # An encoder whose matmuls run in bfloat16 (float32 variables and outputs):
  bert-tf-export --checkpoint=path/to/all-MiniLM-L6-v2 --precision=bfloat16 \
      --output_dir=exports/minilm_bf16

  # A fine-tuned sentiment classifier: also OUTPUT_DIR/classifier, strings in,
  # logits, probabilities and id2label's label out:
  bert-tf-export --checkpoint=path/to/bert-finetuned-sst2 --output_dir=exports/sst2

  # Users of TF Model Garden's export_tfhub.py can keep their flags:
  bert-tf-export --bert_config_file=bert_config.json \
      --model_checkpoint_path=bert_model.ckpt --vocab_file=vocab.txt \
      --do_lower_case --export_path=exports/bert_base

Then inspect or try the export:

  bert-tf-inspect exports/bert_base
  bert-tf-fill-mask exports/bert_base "Paris is the [MASK] of France."

The same as a library call: bert_tf.export.export_pair(checkpoint, output_dir, ...).
"""

from __future__ import annotations

from bert_tf.cli.command import Command, Flag
from bert_tf.export.options import ExportOptions
from bert_tf.interface import POOLING_MODES, TASK_DIRS
from bert_tf.precision import PRECISIONS

FLAGS = (
    Flag(
        "checkpoint",
        str,
        "The checkpoint: a TF1 prefix (.../bert_model.ckpt), a folder holding one, or a "
        "Hugging Face / sentence-transformers folder. Its config, vocab.txt and "
        "tokenizer_config.json are found beside it.",
        required=True,
        aliases=("model_checkpoint_path",),
    ),
    Flag(
        "output_dir",
        str,
        "The export folder to create: OUTPUT_DIR/encoder, OUTPUT_DIR/preprocess, "
        "OUTPUT_DIR/README.md.",
        required=True,
        aliases=("export_path",),
    ),
    Flag(
        "config",
        str,
        "A config file (bert_config.json or config.json) or a preset name from configs/; "
        "default: the config beside the checkpoint.",
        aliases=("bert_config_file",),
    ),
    Flag("vocab_file", str, "The wordpiece vocab; default: the vocab.txt beside the checkpoint."),
    Flag(
        "do_lower_case",
        bool,
        "Lower-case (and strip accents from) text before tokenizing. Default: from "
        "tokenizer_config.json, the preset, the checkpoint's name or the vocab; the choice "
        "is logged.",
    ),
    Flag("default_seq_length", int, "The seq_length of preprocess(strings).", lower_bound=2),
    Flag(
        "with_mlm",
        bool,
        "Also export the masked-LM head as encoder.mlm (for fill-mask and further "
        "pre-training); the checkpoint must have it.",
    ),
    Flag(
        "with_nsp",
        bool,
        "Also export the next-sentence head as encoder.nsp (nsp_logits [batch, 2]: "
        "is-next, not-next); the checkpoint must have it. With --with_mlm: both "
        "pre-training heads.",
    ),
    Flag(
        "overwrite", bool, "Replace an existing OUTPUT_DIR, only once the new export is verified."
    ),
    Flag(
        "serving_jit_compile",
        bool,
        "XLA-compile the encoder's serving_default and tokens signatures. Default: for "
        "--precision=float32 only (on CPU, XLA runs bfloat16 slower than oneDNN).",
    ),
    Flag(
        "precision",
        "enum",
        "The encoder's compute precision: bfloat16 runs the matmuls in bfloat16 (fast on "
        "CPUs with AVX512_BF16 or AMX and on accelerators), with float32 variables for "
        "fine-tuning, float32 LayerNorm, softmax and outputs, and is verified against the "
        "float32 model (mean-pooled cosine, see the model card).",
        choices=PRECISIONS,
    ),
    Flag(
        "embedding_pooling",
        "enum",
        "Write OUTPUT_DIR/embedding (strings -> sentence vectors) with this pooling. Default: "
        "a sentence-transformers checkpoint's own stack (modules.json); none for a plain BERT "
        "checkpoint. For a sentence-transformers checkpoint it replaces the pooling and drops "
        "its Dense layers.",
        choices=POOLING_MODES,
    ),
    Flag(
        "embedding_normalize",
        bool,
        "Scale OUTPUT_DIR/embedding's vectors to unit L2 norm. Default: as the checkpoint's "
        "stack says (off for a plain BERT checkpoint).",
    ),
    Flag(
        "task",
        "enum",
        "The fine-tuned head to write as a string-in folder beside the pair (classifier/: "
        "text -> logits, probabilities, label; token_classifier/: text -> logits and entity "
        "spans; question_answerer/: question, context -> answer, offsets, score; "
        "multiple_choice/: prompt, choices -> logits, label). Default: the head the checkpoint holds "
        "(config.json architectures, weight names), if any; give it where a checkpoint is "
        "ambiguous.",
        choices=TASK_DIRS,
    ),
    Flag(
        "labels",
        "list",
        "The task head's label names in logit order. Default: the checkpoint's id2label, "
        "else LABEL_0, LABEL_1, ...",
    ),
    Flag(
        "qa_seq_length",
        int,
        "question_answerer/: wordpieces per window. Default: 384 (run_squad.py's "
        "max_seq_length), or the config's max_position_embeddings if smaller.",
        lower_bound=8,
    ),
    Flag(
        "qa_doc_stride",
        int,
        "question_answerer/: context wordpieces from one window's start to the next's "
        "(run_squad.py's doc_stride).",
        lower_bound=1,
    ),
    Flag(
        "qa_max_query_length",
        int,
        "question_answerer/: the question's wordpieces kept (run_squad.py's max_query_length).",
        lower_bound=1,
    ),
    Flag(
        "qa_max_answer_length",
        int,
        "question_answerer/: the longest answer in wordpieces (run_squad.py's max_answer_length).",
        lower_bound=1,
    ),
)


def main(args) -> int:
    from bert_tf.export import export_pair

    options = ExportOptions(
        **{
            name: getattr(args, name)
            for name in (
                "config",
                "vocab_file",
                "do_lower_case",
                "default_seq_length",
                "with_mlm",
                "with_nsp",
                "overwrite",
                "serving_jit_compile",
                "precision",
                "embedding_pooling",
                "embedding_normalize",
                "task",
                "qa_seq_length",
                "qa_doc_stride",
                "qa_max_query_length",
                "qa_max_answer_length",
            )
        },
        labels=tuple(args.labels) if args.labels else None,
    )
    result = export_pair(args.checkpoint, args.output_dir, options)
    verification = result.metadata.verification
    worst = max(verification.max_abs_diff.values())
    print(
        f"Exported {result.output_dir} ({verification.precision}) in {result.seconds:.1f} s "
        f"(verified: max abs diff {worst:.1e}, mean-pooled cosine {verification.min_cosine:.6f})"
    )
    return 0


COMMAND = Command(
    "bert-tf-export",
    __doc__,
    main,
    flags=FLAGS,
    defaults=ExportOptions,
    interrupted="interrupted: nothing was written",
)
run = COMMAND.run

if __name__ == "__main__":
    run()
