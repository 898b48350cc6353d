"""The command line: the typer app, the injected Env, one module per command group.

May import: everything. The only layer that knows about exit codes, typer and the terminal.
"""

from mm2plan.cli.app import Env, app, main

__all__ = ["Env", "app", "main"]
