"""Keras 3 stays optional: `import bert_tf` (and its Keras 2 path) imports neither it nor this package."""

import subprocess
import sys


def test_import_bert_tf_does_not_import_keras3():
    code = (
        "import sys, bert_tf, bert_tf.interface, bert_tf.finetune.config\n"
        "print(sorted(m for m in sys.modules if m == 'keras' or m.startswith(('keras.', 'bert_tf.keras3'))))"
    )
    process = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert process.returncode == 0, process.stderr[-2000:]
    assert process.stdout.strip() == "[]"
    assert "keras3" not in __import__("bert_tf").__dir__()
