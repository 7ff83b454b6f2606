"""The ``rtloop`` console command of the code under test, run by this interpreter (not whatever is on PATH)."""

from __future__ import annotations

import sys

RTLOOP_CONSOLE = [sys.executable, "-c", "import sys; from rtloop.cli import console_main; sys.exit(console_main())"]
