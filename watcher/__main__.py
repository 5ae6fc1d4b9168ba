"""Allow ``python -m watcher``."""

from __future__ import annotations

import sys

from watcher.cli import main

sys.exit(main())
