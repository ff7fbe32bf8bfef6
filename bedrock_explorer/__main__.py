"""``python -m bedrock_explorer``: see :mod:`bedrock_explorer.cli`."""

import sys

from bedrock_explorer.cli import main

sys.exit(main())
