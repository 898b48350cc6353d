"""Adapters: the ports implemented on real libraries (confluent-kafka, httpx) and in memory (tests).

May import: mm2plan.core, mm2plan.ports, and each adapter its own library; `connect` also reads
the connectors' desired configs from mm2plan.planning.
"""
