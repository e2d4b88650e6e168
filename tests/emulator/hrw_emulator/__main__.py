"""``python -m hrw_emulator serve …`` (same as the ``hrw-emulator`` console script)."""

import sys

from .cli import main

sys.exit(main())
