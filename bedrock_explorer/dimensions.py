"""The Explorer's dimensions, each defined once: what a chart is stacked by, a table grouped by,
a filter narrows, a link carries and ``report --filter`` takes.

Why one registry: a dimension used to be written out in eight places (the filter SQL, the
grouping SQL, the options query, the URL, the CLI aliases, the page labels, the file-name slug,
the tests), and the copies drifted. The page, the URL, the CLI, the SQL builder and the tests
now all read :data:`DIMENSIONS`; a new dimension is one entry here (and one field on
``explorer.Filters``, checked by a test).

The SQL here is fixed text chosen by the code, never by the user: filter *values* are bound
parameters (the ``?`` in :meth:`Dimension.filter_sql`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bedrock_explorer.tiers import TIERS

#: Where a dimension's value lives: an ``invocations`` column, the ``model_ids`` dimension (the
#: base model, routing, service type of a raw model id), the ``identities`` table (the role or
#: user and session of an ARN), or the ``integrations`` table (its name).
Scope = Literal["invocation", "model", "identity", "integration"]

OUTCOMES = ("success", "guardrail_intervened", "error")
#: The time buckets of charts and grouped tables.
GRANULARITIES = ("hour", "day", "week", "month")


@dataclass(frozen=True)
class Dimension:
    """One dimension.

    ``name`` is the group-by / stack-by name (``service type``); ``field`` the
    ``explorer.Filters`` attribute and URL key (``service_types``), ``None`` for a dimension one
    can group by but not filter on. ``column`` is the SQL of the value in its ``scope``'s table;
    ``group_sql`` what grouping selects when it differs (grouping reads the model dimension
    through a LEFT JOIN, so an unknown model falls back to the raw id).
    """

    name: str
    label: str
    scope: Scope
    column: str
    field: str | None = None
    group_sql: str | None = None
    aliases: tuple[str, ...] = ()
    #: a fixed list of values; otherwise the options are read from what is stored
    choices: tuple[str, ...] = ()
    #: for a roll-up of another dimension (``family`` of ``model``): that dimension's name; the
    #: figures are grouped by it and summed up in Python (``explorer.grouped``), no SQL of its own
    derived_from: str | None = None

    @property
    def cli_key(self) -> str:
        """The ``report --filter KEY=VALUE`` key (``service_type``)."""
        return self.name.replace(" ", "_")

    @property
    def alias(self) -> str:
        """The column alias of the dimension in grouped SQL (``d_service_type``)."""
        return "d_" + self.cli_key

    def filter_sql(self) -> str:
        """The filter clause, one bound parameter (the list of values kept).

        ``model`` clauses apply to ``model_ids m`` (the caller wraps them in a sub-query); the
        others to ``invocations``."""
        if self.scope == "integration":
            return (
                "integration_id IN (SELECT id FROM integrations "
                f"WHERE list_contains(?, {self.column}))"
            )
        if self.scope == "identity":
            return (
                "identity_arn IN (SELECT identity_arn FROM identities "
                f"WHERE list_contains(?, {self.column}))"
            )
        return f"list_contains(?, {self.column})"


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension(
        "integration", "Integration", "integration", "name", "integrations", "integration_id"
    ),
    Dimension("account", "Account", "invocation", "account_id", "accounts"),
    Dimension("region", "Region", "invocation", "region", "regions"),
    Dimension(
        "model",
        "Model",
        "model",
        "coalesce(m.base_model, m.model_id)",
        "models",
        group_sql="coalesce(m.base_model, a.model_id)",
    ),
    Dimension(
        "family",
        "Model family",
        "model",
        "",
        derived_from="model",
        aliases=("model family",),
    ),
    Dimension("model id", "Model id (as called)", "invocation", "model_id"),
    Dimension(
        "service type",
        "Service type",
        "model",
        "m.service_type",
        "service_types",
        aliases=("service",),
    ),
    Dimension("operation", "Operation", "invocation", "operation", "operations"),
    Dimension("routing", "Routing", "model", "m.routing", "routings"),
    Dimension("provider", "Provider", "model", "m.provider"),
    Dimension("identity", "Identity (role or user)", "identity", "principal_name", "identities"),
    Dimension("session", "Session", "identity", "session_name", "sessions"),
    Dimension("outcome", "Outcome", "invocation", "outcome", "outcomes", choices=OUTCOMES),
    Dimension("tier", "Service tier", "invocation", "performance_tier", "tiers", choices=TIERS),
)

#: What a chart can be stacked by and a table grouped by: the dimensions, then a
#: ``requestMetadata`` key (chosen apart).
GROUP_BY: tuple[str, ...] = (*(d.name for d in DIMENSIONS), "metadata")
BY_NAME: dict[str, Dimension] = {d.name: d for d in DIMENSIONS}
#: The dimensions one can filter on, in the order the page shows them.
FILTERABLE: tuple[Dimension, ...] = tuple(d for d in DIMENSIONS if d.field)
BY_FIELD: dict[str, Dimension] = {d.field: d for d in FILTERABLE if d.field}


def filter_field(key: str) -> str | None:
    """The ``Filters`` field a ``report --filter`` key names (``service``, ``service_type``,
    ``service_types`` → ``service_types``), or ``None`` (then it is a requestMetadata key)."""
    for d in FILTERABLE:
        if key in (d.cli_key, d.field, *d.aliases):
            return d.field
    return None
