"""``python -m pytest_proxmox_mpc.cli``: the console command."""

import sys

from . import main

sys.exit(main())
