"""`python -m pinwheel_demo`."""

import sys

from pinwheel_demo.cli import main

sys.exit(main())
