"""`tf.distribute` strategies by name, as the `--strategy` flag spells them."""

from __future__ import annotations

import tensorflow as tf

from bert_tf.errors import BertTfError

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")


class StrategyError(BertTfError, ValueError):
    """An unknown strategy name or a TPU that cannot be reached."""


def make_strategy(name: str, tpu: str | None = None) -> tf.distribute.Strategy:
    """Returns the strategy named `name`.

    Args:
      name: `default` (one device), `mirrored` (every local GPU, or the CPU),
        `multi_worker` (`MultiWorkerMirroredStrategy`; workers from `TF_CONFIG`)
        or `tpu`.
      tpu: for `tpu`, the TPU's name or `grpc://` address; "" or "local" for a
        TPU VM's own chips.

    Raises:
      StrategyError: unknown name, or the TPU cannot be found.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, tf.errors.OpError) as e:
            raise StrategyError(
                f"tpu: cannot reach TPU {tpu!r}: {str(e).splitlines()[0]}"
            ) from None
        return tf.distribute.TPUStrategy(resolver)
    raise StrategyError(f"strategy: expected one of {', '.join(STRATEGIES)}, found {name!r}")
