"""The local Kafka lab: real Apache Kafka (KRaft) from Maven Central's jars, on loopback.

Used by the integration tests and by `mm2plan sandbox`. Needs Java 17+ and, the first time,
Maven; everything else is in the jars. See docs/lab.md. May import: the standard library,
confluent_kafka, yaml, mm2plan.core, mm2plan.topology (the sandbox writes a topology) and the Kafka
adapter's quiet logger. Its modules load only when used: `mm2plan validate` never pays for them.
"""

from pathlib import Path

DEFAULT_DIR = Path(".mm2plan/sandbox")
"""Where `mm2plan sandbox` keeps the lab's state, data and logs."""
