"""Process exit codes: one documented enum for every command (README "Exit codes").

What went wrong is told by diagnostic codes, not by more exit codes.
"""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    """Success; warnings allowed unless ``--strict``."""
    ERROR = 1
    """Errors were reported (invalid topology, unreachable cluster, refused apply, ...);
    ``runtime status``: a flow is not running."""
    CHANGES = 2
    """``plan --detailed-exitcode`` only: the plan has changes."""
    PARTIAL = 3
    """``apply`` made some changes and failed or skipped others; re-run it to finish."""
    USAGE = 64
    """Bad command line (BSD sysexits EX_USAGE); click's own 2 is remapped."""
    INTERRUPTED = 130
    """Ctrl-C (128 + SIGINT); ``replicate`` exits 0 on its first Ctrl-C or SIGTERM (it stopped
    cleanly), 130 when a second one killed its workers."""
