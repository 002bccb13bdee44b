"""The run store: every file a run writes, written atomically, read back for resume."""

from .run import FORMAT_VERSION, RunStore, atomic_write

__all__ = ["RunStore", "atomic_write", "FORMAT_VERSION"]
