"""Defaults the CLI prints in ``--help``, in a module that imports nothing.

Why: ``--help`` must not load pandas, DuckDB and boto3 (a second of start-up); the modules that
use these values import them from here.
"""

#: Days of history the demo data spans, and its random seed (the same data on every machine).
DEMO_DAYS = 90
DEMO_SEED = 20260101
#: Whose on-demand prices ``prices refresh`` reads: the region the built-in prices describe.
PRICE_LIST_REGION = "us-east-1"
