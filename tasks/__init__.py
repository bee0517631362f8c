"""Fine-tuned BERT task heads (classification, token classification, QA, multiple choice).

`bert_tf.tasks.heads`: which task a checkpoint holds (HF `architectures`, weight
names, TF1 `run_classifier` / `run_squad` variable names), the head name
tables and the Keras task models that checkpoints fill.
"""
