"""mm2plan: plan and apply Kafka MirrorMaker 2 disaster-recovery topologies."""

__version__ = "0.1.0"
