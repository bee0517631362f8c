"""NLI fine-tuning on an exported pair, the way TF Hub users build it.

Modules, one concept each:

* `finetune.data`: readers for MultiNLI / SNLI / XNLI JSON lines, GLUE-style
  TSV with a header and plain TSV (`read_nli`).
* `finetune.model`: the packer (`tokenize` + `bert_pack_inputs` as
  `hub.KerasLayer`s) and the classifier (trainable encoder -> dropout -> dense
  softmax).
* `finetune.pipeline`: tf.data input with preprocessing in `Dataset.map`.
* `finetune.optimization`: AdamW with linear warmup and decay.
* `finetune.strategy`: `tf.distribute` strategies by flag name.
* `finetune.train`: the training loop with checkpoints, exact resume and
  per-epoch evaluation (`TrainConfig`, `train`).
* `finetune.metrics`: accuracy and per-class precision/recall.
* `finetune.serving`: the string-in SavedModel for TF Serving
  (`export_classifier`).
* `finetune.__main__`: the `bert-tf-finetune` command.
"""
