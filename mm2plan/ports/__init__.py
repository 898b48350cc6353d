"""Ports: the Protocols between the core and the outside (cluster reader, admin, ownership,
replication engine), their request values and domain errors. May import: mm2plan.core only.
"""
