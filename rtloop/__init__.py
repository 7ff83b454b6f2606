"""rtloop: a real-time variation meter for musical loops (live runtime; never imports torch)."""

__version__ = "0.1.0"
