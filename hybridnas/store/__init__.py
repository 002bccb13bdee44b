"""The run store: every file a run writes, written atomically, read back for resume."""

from .run import FORMAT_VERSION, RunStore, WriteFailed, atomic_write, staging_folder, writing

__all__ = ["RunStore", "WriteFailed", "atomic_write", "staging_folder", "writing", "FORMAT_VERSION"]
