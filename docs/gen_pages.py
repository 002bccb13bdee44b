"""Pages generated at build time (mkdocs-gen-files), so they cannot drift from the code.

- ``reference/space.md``: every key of a space file, from the configuration dataclasses and
  their attribute docstrings, then every block strategy's options
  (:func:`hybridnas.reference.space_reference`).
"""

from __future__ import annotations

import mkdocs_gen_files

from hybridnas.reference import space_reference

with mkdocs_gen_files.open("reference/space.md", "w") as f:
    f.write(space_reference())
mkdocs_gen_files.set_edit_path("reference/space.md", "../hybridnas/config/schema.py")
