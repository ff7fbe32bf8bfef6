"""Bedrock Explorer: Amazon Bedrock spend from model invocation logs, in a local DuckDB file.

All logic lives in this package; it never imports streamlit (the pages in ``pages/`` are thin).
"""

__version__ = "0.1.0"
