"""The local DuckDB store: schema and migrations, the batch writer, integrations and checkpoints."""

from bedrock_explorer.store.database import Integration, Store

__all__ = ["Integration", "Store"]
