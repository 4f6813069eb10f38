"""``python -m dlhelpers``: see ``dlhelpers.cli``."""
import sys

from .cli import main

sys.exit(main())
