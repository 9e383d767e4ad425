"""``python -m tokenauction`` is the ``tokenauction`` command."""

import sys

from tokenauction.cli import main

sys.exit(main())
