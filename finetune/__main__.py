"""`python -m bert_tf.finetune`: the same as `bert-tf-finetune`."""

from bert_tf.cli.finetune import run

if __name__ == "__main__":
    run()
