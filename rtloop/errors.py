"""rtloop's error hierarchy: every error is an RtloopError and also the builtin it resembles."""

import errno

# The errors of a write that the storage refused: full, over quota, read-only, or past its largest file.
STORAGE_REFUSED = frozenset(
    code for code in (errno.ENOSPC, getattr(errno, "EDQUOT", None), errno.EROFS, errno.EFBIG) if code is not None
)


class RtloopError(Exception):
    """Base class of every error rtloop raises on purpose."""


class AudioError(RtloopError, ValueError):
    """Audio that cannot be used: unreadable, empty, silent, non-finite or too short."""


class BundleError(RtloopError, ValueError):
    """A model bundle that is missing, tampered with, truncated or made by a newer rtloop."""


class CheckpointError(RtloopError, ValueError):
    """A CLAP checkpoint that is missing, unreadable or does not fit the requested encoder."""


class DeviceError(RtloopError, OSError):
    """An audio or MIDI device that cannot be found or opened."""


class TakesError(RtloopError, OSError):
    """A takes folder that cannot be used: not a folder, not writable, or not an rtloop takes folder."""
