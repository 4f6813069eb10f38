"""``python -m dlhelpers``: the command line, by audience (students, instructors, translators, maintainers); see
``dlhelpers.tools.cli``."""
import sys

from dlhelpers.tools.cli import main

sys.exit(main())
