"""Pages generated at build time (mkdocs-gen-files), so they cannot drift from the code.

- ``reference/space.md``: every key of a space file, from the configuration dataclasses and
  their attribute docstrings, then every block strategy's options
  (:func:`hybridnas.reference.space_reference`).
- ``reference/layers.md``: the package's layers (:data:`hybridnas.layers.LAYERS`) and its import
  graph between top-level groups, read from the source (:func:`hybridnas.layers.markdown`).
"""

from __future__ import annotations

import mkdocs_gen_files

from hybridnas.layers import check, markdown, package_root
from hybridnas.reference import space_reference

with mkdocs_gen_files.open("reference/space.md", "w") as f:
    f.write(space_reference())
mkdocs_gen_files.set_edit_path("reference/space.md", "../hybridnas/config/schema.py")

with mkdocs_gen_files.open("reference/layers.md", "w") as f:
    f.write(markdown(check(package_root())))
mkdocs_gen_files.set_edit_path("reference/layers.md", "../hybridnas/layers.py")
