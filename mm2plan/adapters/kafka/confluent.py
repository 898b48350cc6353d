"""One cluster on confluent-kafka: the reader, the admin writer and the ownership store."""

from __future__ import annotations

from collections.abc import Mapping

from mm2plan.adapters.kafka.ownership import KafkaOwnership
from mm2plan.adapters.kafka.reader import KafkaReader
from mm2plan.core.model import Cluster


class ConfluentCluster(KafkaReader, KafkaOwnership):
    """The CLI's connection to one cluster: every cluster port on one set of clients."""


def confluent_admin_factory(
    cluster: Cluster, environ: Mapping[str, str] | None = None, timeout_s: float = 15.0
) -> ConfluentCluster:
    """The CLI's `ConnectionFactory`; `environ` resolves `${env:..}` references (tests pass one)."""
    return ConfluentCluster(cluster, environ, timeout_s)


__all__ = ["ConfluentCluster", "confluent_admin_factory"]
