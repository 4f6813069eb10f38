"""``python -m dlhelpers``: see ``dlhelpers.cli``."""
import sys

from dlhelpers.tools.cli import main

sys.exit(main())
