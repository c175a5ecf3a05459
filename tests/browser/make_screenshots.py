"""Write docs/screenshots/<page>.png (1440x900, with the fake providers' data).

    DATABASE_URL="postgresql://postgres@/spendapp_browser?host=$PWD/var/pgdata" DEBUG=1 \\
        .venv/bin/python -m tests.browser.make_screenshots

Runs tests/browser/test_screenshots.py, which is skipped in ordinary test runs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest


def main() -> int:
    os.environ["SPENDAPP_SCREENSHOTS"] = "1"
    os.environ.setdefault("DEBUG", "1")
    test = Path(__file__).with_name("test_screenshots.py")
    return pytest.main([str(test), "-q", "-p", "no:cacheprovider", *sys.argv[1:]])


if __name__ == "__main__":
    raise SystemExit(main())
