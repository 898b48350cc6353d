"""MM2's record classes under the runtime's name (`mm2plan.runtime.records`); the formats are
pure and live in `core.mm2_records`, where failover and status read them too."""

from mm2plan.core.mm2_records import (
    VERSION,
    Checkpoint,
    Heartbeat,
    OffsetSync,
    RecordFormatError,
)

__all__ = ["VERSION", "Checkpoint", "Heartbeat", "OffsetSync", "RecordFormatError"]
