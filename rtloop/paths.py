"""Where rtloop keeps what it caches: checkpoints, embeddings, the demo's bundle."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/rtloop`` (``~/.cache/rtloop``)."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rtloop"
