"""The `connect` engine: MM2's own connectors on a Kafka Connect cluster, over its REST API.

May import: mm2plan.core, mm2plan.ports, mm2plan.planning (the connectors' desired configs), httpx.
"""
