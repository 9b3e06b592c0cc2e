"""``python -m ferroshap ...``: the ``ferroshap`` command, for environments where the console
script is not on PATH."""

import sys

from ferroshap.cli import main

sys.exit(main())
