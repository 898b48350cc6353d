"""`mm2plan` whose `replicate` runs tests/runtime/fake_worker.py as its workers."""

from __future__ import annotations

import sys
from pathlib import Path

from mm2plan.cli import Env, app

WORKER = (sys.executable, str(Path(__file__).with_name("fake_worker.py")))

if __name__ == "__main__":
    app(args=sys.argv[1:], obj=Env(worker_command=WORKER))
