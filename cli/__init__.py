"""bert-tf's command lines, one module per console script, all declared the same way.

Each module holds a `COMMAND` (`bert_tf.cli.command.Command`: guide, flag
table, `main`) and no library code; `main` parses nothing and calls typed
library functions. The console scripts (setup.cfg) call `COMMAND.run()`:

| script | module | library call |
| --- | --- | --- |
| `bert-tf-export` | `bert_tf.cli.export` | `bert_tf.export.export_pair` |
| `bert-tf-inspect` | `bert_tf.cli.inspect_export` | `bert_tf.export.inspection.inspect_export` |
| `bert-tf-fill-mask` | `bert_tf.cli.fill_mask` | `bert_tf.export.fill_mask.fill_mask` |
| `bert-tf-embed` | `bert_tf.cli.embed` | `bert_tf.embedding.embed_file` |
| `bert-tf-finetune` | `bert_tf.cli.finetune` | `bert_tf.finetune.train.train` |
| `bert-tf-demo` | `bert_tf.cli.demo` | `bert_tf.export.demo.similarities` |

`docs/cli.md` is generated from these tables (`python -m bert_tf.cli.reference`).
"""

# The CLI modules in `--help` order (the reference page follows it).
COMMAND_MODULES = ("export", "inspect_export", "fill_mask", "embed", "finetune", "demo")
