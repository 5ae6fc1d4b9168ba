"""``python -m watcher.rules test FILE...``: rule unit tests (``watcher rules test`` in the CLI)."""

from __future__ import annotations

import sys

from watcher.rules.promtest import run_rule_tests


def main(argv: list[str]) -> int:
    """Run ``test FILE...``; exit 2 on a usage error."""
    if len(argv) < 2 or argv[0] != "test":
        sys.stderr.write("usage: python -m watcher.rules test FILE...\n")
        return 2
    return run_rule_tests(argv[1:], sys.stdout)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
