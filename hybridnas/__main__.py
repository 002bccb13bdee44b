"""``python -m hybridnas``: the same command line as the ``hybridnas`` script."""

import sys

from .cli.main import main

if __name__ == "__main__":
    sys.exit(main())
