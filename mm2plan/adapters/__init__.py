"""Adapters: the ports implemented on real libraries (confluent-kafka) and in memory (tests).

May import: mm2plan.core, mm2plan.ports, and each adapter its own library.
"""
