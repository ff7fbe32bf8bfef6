"""A small IAM policy evaluator: can these policies perform this action on this resource?

Why our own: no permissively licensed Python library evaluates policies (parliament lints them),
and ``iam:SimulatePrincipalPolicy`` needs a permission users often lack (and moto does not
implement it). The subset here is what the checker needs, following AWS's evaluation logic for a
single account's identity-based policies:

* an explicit ``Deny`` that matches wins;
* otherwise an ``Allow`` must match;
* with a permissions boundary, the boundary must allow too (its ``Deny`` also wins);
* ``Action`` / ``NotAction``, ``Resource`` / ``NotResource``, ``*`` and ``?`` wildcards,
  case-insensitive action names, one statement or a list, one value or a list;
* documents as dicts, JSON text, or the URL-encoded JSON IAM's API returns.

A matching statement with a ``Condition`` cannot be decided without the request's context: the
verdict is then *depends on a condition*, naming the condition keys, never a guess.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any

from bedrock_explorer.errors import UserFacingError


class Verdict(StrEnum):
    ALLOWED = "allowed"
    DENIED = "explicitly denied"
    NOT_ALLOWED = "not allowed"
    CONDITIONAL = "depends on a condition"


@dataclass(frozen=True)
class Policy:
    """A named policy document (inline, managed or a boundary)."""

    name: str
    document: dict[str, Any]
    kind: str = "inline"  # inline | managed | boundary | pasted


@dataclass(frozen=True)
class StatementRef:
    """Which statement decided: the policy, the statement's Sid (or its position), the statement."""

    policy: str
    sid: str
    statement: dict[str, Any]
    index: int


@dataclass
class Decision:
    """The verdict for one action on one resource, and why."""

    action: str
    resource: str
    verdict: Verdict
    deciding: list[StatementRef] = field(default_factory=list)
    condition_keys: list[str] = field(default_factory=list)
    reason: str = ""


def load_document(document: dict[str, Any] | str) -> dict[str, Any]:
    """A policy document from a dict, JSON text, or URL-encoded JSON text.

    Bad JSON is reported with its line and column (a truncated paste is the usual cause).
    """
    if isinstance(document, dict):
        return document
    text = document.strip()
    first_error: json.JSONDecodeError | None = None
    for candidate in (text, urllib.parse.unquote(text)):
        try:
            parsed = json.loads(candidate)
        except json.JSONDecodeError as err:
            first_error = first_error or err
            continue
        if isinstance(parsed, dict):
            return parsed
    if first_error is not None and text[:1] in "{[":
        raise UserFacingError(
            f"The policy JSON is not valid at line {first_error.lineno}, column "
            f"{first_error.colno}: {first_error.msg}",
            "copy the whole policy again from the IAM console's JSON tab (a paste cut short "
            "ends early); check for a missing comma or bracket there",
        )
    raise UserFacingError(
        "This is not a policy document (JSON with a Statement)",
        "paste the policy's JSON as shown in the IAM console's JSON tab",
    )


def as_list(value: Any) -> list[Any]:
    """A policy element's value as a list (IAM allows one value or a list)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def statements(policy: Policy) -> list[dict[str, Any]]:
    """The statements of a policy: one statement object or a list of them."""
    raw = policy.document.get("Statement", [])
    return [s for s in as_list(raw) if isinstance(s, dict)]


@cache
def _pattern(glob: str, case_insensitive: bool) -> re.Pattern[str]:
    """IAM wildcards: ``*`` any run of characters, ``?`` one character; nothing else is special."""
    parts = ("." * (ch == "?") or ".*" * (ch == "*") or re.escape(ch) for ch in glob)
    return re.compile("".join(parts), re.IGNORECASE if case_insensitive else 0)


def matches(glob: str, value: str, *, case_insensitive: bool = False) -> bool:
    return _pattern(glob, case_insensitive).fullmatch(value) is not None


def action_matches(statement: dict[str, Any], action: str) -> bool:
    if "Action" in statement:
        return any(matches(a, action, case_insensitive=True) for a in as_list(statement["Action"]))
    if "NotAction" in statement:
        return not any(
            matches(a, action, case_insensitive=True) for a in as_list(statement["NotAction"])
        )
    return False


def resource_matches(statement: dict[str, Any], resource: str) -> bool:
    if "Resource" in statement:
        return any(matches(r, resource) for r in as_list(statement["Resource"]))
    if "NotResource" in statement:
        return not any(matches(r, resource) for r in as_list(statement["NotResource"]))
    return False


def _condition_keys(statement: dict[str, Any]) -> list[str]:
    condition = statement.get("Condition") or {}
    keys: list[str] = []
    for operator_block in condition.values():
        if isinstance(operator_block, dict):
            keys.extend(operator_block)
    return sorted(set(keys))


def _matching(
    policies: list[Policy], action: str, resource: str, effect: str
) -> list[StatementRef]:
    found = []
    for policy in policies:
        for index, statement in enumerate(statements(policy)):
            if str(statement.get("Effect", "")).lower() != effect:
                continue
            if action_matches(statement, action) and resource_matches(statement, resource):
                sid = str(statement.get("Sid") or f"statement {index + 1}")
                found.append(StatementRef(policy.name, sid, statement, index))
    return found


def _decide(policies: list[Policy], action: str, resource: str) -> Decision:
    decision = Decision(action, resource, Verdict.NOT_ALLOWED)
    denies = _matching(policies, action, resource, "deny")
    hard_denies = [d for d in denies if not _condition_keys(d.statement)]
    if hard_denies:
        decision.verdict = Verdict.DENIED
        decision.deciding = hard_denies
        first = hard_denies[0]
        decision.reason = f"explicit Deny in {first.policy} ({first.sid})"
        return decision
    allows = _matching(policies, action, resource, "allow")
    hard_allows = [a for a in allows if not _condition_keys(a.statement)]
    conditional = [s for s in (*denies, *allows) if _condition_keys(s.statement)]
    if conditional and (denies or not hard_allows):
        decision.verdict = Verdict.CONDITIONAL
        decision.deciding = conditional
        decision.condition_keys = sorted(
            {k for s in conditional for k in _condition_keys(s.statement)}
        )
        decision.reason = "a matching statement has a Condition on " + ", ".join(
            decision.condition_keys
        )
        return decision
    if hard_allows:
        decision.verdict = Verdict.ALLOWED
        decision.deciding = hard_allows
        first = hard_allows[0]
        decision.reason = f"allowed by {first.policy} ({first.sid})"
        return decision
    decision.reason = "no Allow statement matches this action and resource"
    return decision


def evaluate(
    policies: list[Policy], action: str, resource: str, boundary: Policy | None = None
) -> Decision:
    """The verdict for one action on one resource under identity policies and a boundary."""
    decision = _decide(policies, action, resource)
    if boundary is None or decision.verdict in (Verdict.DENIED, Verdict.NOT_ALLOWED):
        return decision
    limit = _decide([boundary], action, resource)
    if limit.verdict == Verdict.ALLOWED:
        return decision
    if limit.verdict == Verdict.DENIED:
        limit.reason = f"the permissions boundary denies it: {limit.reason}"
        return limit
    if limit.verdict == Verdict.NOT_ALLOWED:
        limit.reason = (
            f"the permissions boundary {boundary.name} does not allow it "
            "(a boundary must allow an action too)"
        )
        limit.deciding = []
        return limit
    limit.reason = f"the permissions boundary: {limit.reason}"
    return limit
