"""`python -m bert_tf.export`: the same as `bert-tf-export`."""

from bert_tf.cli.export import run

if __name__ == "__main__":
    run()
