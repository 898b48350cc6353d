"""The pure core: diagnostics, the topology model, MM2 naming, filters, resources, the graph.

May import: the standard library, and networkx (in graph.py only). Nothing here does I/O.
"""
