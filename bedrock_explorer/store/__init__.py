"""The local DuckDB store: schema and migrations, the batch writer, integrations and checkpoints."""

from bedrock_explorer.store.database import Integration, Store
from bedrock_explorer.store.shared import SharedStore

__all__ = ["Integration", "SharedStore", "Store"]
