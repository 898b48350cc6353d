"""Whether Ctrl-C was pressed, even where a library swallowed the KeyboardInterrupt.

librdkafka's Python binding turns a KeyboardInterrupt raised while it builds a client into a
TypeError ("expected configuration property name ..."), which would then read as a bad cluster
config. The entry point's SIGINT handler notes the signal before raising as Python does, and a
command's error path asks here first: an interrupted command exits 130, not with a false error.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

_seen = threading.Event()


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    _seen.set()
    raise KeyboardInterrupt


def install() -> None:
    """From the main thread of the console entry point only (tests through CliRunner never)."""
    signal.signal(signal.SIGINT, _on_sigint)


def happened() -> bool:
    return _seen.is_set()
