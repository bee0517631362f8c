"""`encoder.nsp` (`--with_nsp`): the next-sentence head, alone and beside the masked-LM one.

Tiny random `BertForNextSentencePrediction` and `BertForPreTraining`
checkpoints are exported through the console script; `nsp_logits` (and, for
the pre-training checkpoint, `mlm_logits`) must equal transformers' on the
sentence pairs the export's `preprocess/` packs, within PARITY_ATOL.
"""

import os

import checkpoint_factory as factory
import numpy as np
import pytest
import tensorflow as tf
from task_checkpoints import hf_task_checkpoint, packed_inputs, run_script

from bert_tf import interface

FIRST = ["The cat sat.", "Crème brûlée in 東京 🙂", "A dog runs."]
SECOND = ["It was on the mat.", "Paris is far.", ""]
SEQ_LENGTH = 20


@pytest.mark.parametrize(
    ("architecture", "flags"),
    [
        ("BertForNextSentencePrediction", ["--with_nsp"]),
        ("BertForPreTraining", ["--with_nsp", "--with_mlm"]),
    ],
)
def test_nsp_logits_match_transformers(tmp_path, architecture, flags):
    import torch

    reference = hf_task_checkpoint(tmp_path / "ckpt", architecture, 2)
    done = run_script(
        "bert-tf-export",
        f"--checkpoint={tmp_path / 'ckpt'}",
        f"--output_dir={tmp_path / 'export'}",
        f"--default_seq_length={SEQ_LENGTH}",
        *flags,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    meta = interface.read_metadata(tmp_path / "export")
    assert meta.with_nsp and meta.with_mlm == ("--with_mlm" in flags)
    assert meta.task is None
    assert 0 <= meta.verification.max_abs_diff["nsp"] < 1e-4
    assert "`encoder.nsp`" in (tmp_path / "export" / "README.md").read_text()

    inputs = packed_inputs(tmp_path / "export", FIRST, SEQ_LENGTH, SECOND)
    encoder = tf.saved_model.load(os.fspath(tmp_path / "export" / interface.ENCODER_DIR))
    found = encoder.nsp({k: tf.constant(v) for k, v in inputs.items()}, training=False)
    feed = dict(
        input_ids=torch.as_tensor(inputs["input_word_ids"], dtype=torch.long),
        attention_mask=torch.as_tensor(inputs["input_mask"], dtype=torch.long),
        token_type_ids=torch.as_tensor(inputs["input_type_ids"], dtype=torch.long),
    )
    with torch.no_grad():
        out = reference(**feed)
    expected = out.seq_relationship_logits if architecture == "BertForPreTraining" else out.logits
    diff = float(np.max(np.abs(found[interface.NSP_LOGITS].numpy() - expected.numpy())))
    print(f"{architecture} nsp: max abs diff to transformers {diff:.2e}")
    assert diff <= factory.PARITY_ATOL
    if "--with_mlm" in flags:
        positions = np.tile(np.arange(1, 4, dtype=np.int32), (len(FIRST), 1))
        mlm = encoder.mlm(
            {
                **{k: tf.constant(v) for k, v in inputs.items()},
                interface.MLM_POSITIONS: tf.constant(positions),
            },
            training=False,
        )[interface.MLM_LOGITS].numpy()
        want = np.take_along_axis(out.prediction_logits.numpy(), positions[..., None], axis=1)
        assert float(np.max(np.abs(mlm - want))) <= factory.PARITY_ATOL
