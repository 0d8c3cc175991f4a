"""``python -m handlers.device``: the device's command line (handlers.device.cli)."""

import sys

from handlers.device.cli import main

sys.exit(main())
