"""``python -m bot`` is the ``newshound`` command."""

import sys

from bot.cli import main

sys.exit(main())
