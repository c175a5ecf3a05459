"""``python -m spendapp.providers.fake``: run the fake provider server or print the truth."""

import sys

from .cli import main

sys.exit(main())
