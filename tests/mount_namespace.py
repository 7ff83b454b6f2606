"""Whether tests can mount a real tmpfs: inside a user + mount namespace (``unshare -rm``), no privileges."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def mount_namespace_problem(mount_point: Path) -> str | None:
    """Why a tmpfs cannot be mounted at the folder ``mount_point`` in a private namespace here, or None."""
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return "needs util-linux's unshare and mount"
    probe = subprocess.run(
        ["unshare", "-rm", "mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return f"user + mount namespaces not permitted here: {probe.stderr.strip()}" if probe.returncode else None
