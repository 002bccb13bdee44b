"""The package's version: one definition, read by ``hybridnas.__version__``, the run manifest and
fingerprint, and the build (``pyproject.toml``: ``[tool.setuptools.dynamic]``)."""

__version__ = "0.1.0"
