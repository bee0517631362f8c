"""Fine-tuned BERT task heads (classification, token classification, QA, multiple choice).

`bert_tf.tasks.heads`: which task a checkpoint holds (HF `architectures`, weight
names, TF1 `run_classifier` / `run_squad` variable names), the head name
tables and the Keras task models that checkpoints fill.
`bert_tf.tasks.classifier`: the string-in `classifier/` SavedModel and
`classify(texts, export_dir)`; `bert_tf.tasks.token_classifier`: the
`token_classifier/` SavedModel and `tag_entities(texts, export_dir)`;
`bert_tf.tasks.question_answerer`: `question_answerer/` and
`answer(questions, contexts, export_dir)`;
`bert_tf.tasks.multiple_choice`: `multiple_choice/` and `choose(prompts, choices, export_dir)`;
`bert_tf.tasks.folders`: which folders an export writes.
"""

from bert_tf.lazy import exports

__getattr__, __dir__ = exports(
    __name__,
    {
        "classify": "bert_tf.tasks.classifier",
        "tag_entities": "bert_tf.tasks.token_classifier",
        "choose": "bert_tf.tasks.multiple_choice",
        "answer": "bert_tf.tasks.question_answerer",
    },
)
