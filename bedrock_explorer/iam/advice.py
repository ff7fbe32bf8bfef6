"""IAM advice that keeps the security team's intent: exemptions for a Deny, named near misses.

Why not "remove the Deny": a Deny that blocks a log read usually guards every log group of the
account; removing it (or dropping actions from it) widens access far beyond the Bedrock log group.
So a blocking Deny is rewritten into the narrowest exemption — the needed actions, on the Bedrock
log group (or bucket prefix) only — and the rewrite is checked with the evaluator before it is
offered: the needed actions pass, and what the statement denied elsewhere is still denied.

Why near misses: "no Allow matches" sends the user hunting; "statement ReadLogs allows this on
…/model-invocation-logs, not on …/modelinvocations" is the fix itself.
"""

from __future__ import annotations

import copy
import difflib
import re
from functools import cache
from typing import Any

import botocore.session

from bedrock_explorer.iam.checker import (
    BucketTarget,
    Check,
    LogGroupTarget,
    Requirement,
)
from bedrock_explorer.iam.evaluator import (
    Policy,
    StatementRef,
    Verdict,
    action_matches,
    as_list,
    evaluate,
    matches,
    resource_matches,
    statements,
)

Target = LogGroupTarget | BucketTarget
#: An action a guarding Deny usually exists for, checked to stay denied after a rewrite.
_DESTRUCTIVE = {"logs": "logs:DeleteLogGroup", "s3": "s3:DeleteObject"}
_SID_CHARS = re.compile(r"[^A-Za-z0-9]")


# -- near misses ---------------------------------------------------------------------------


def _arn_difference(granted: str, wanted: str) -> str:
    """What differs between a granted resource and the one we need, in words."""
    g, w = granted.split(":", 5), wanted.split(":", 5)
    if len(g) < 6 or len(w) < 6:
        return "a different resource"
    labels = ("partition", "service", "region", "account")
    for index, label in enumerate(labels, start=1):
        if not matches(g[index], w[index]):
            return f"{label} {g[index] or '(empty)'}, not {w[index]}"
    return "another resource name"


def _near_miss(check: Check, policies: list[Policy], target: Target) -> list[str]:
    req, wanted = check.requirement, check.requirement.resources[0]
    found: list[str] = []
    for policy in policies:
        for index, statement in enumerate(statements(policy)):
            if str(statement.get("Effect", "")).lower() != "allow":
                continue
            sid = str(statement.get("Sid") or f"statement {index + 1}")
            where = f"{sid} in {policy.name}"
            actions = as_list(statement.get("Action"))
            action_ok = action_matches(statement, req.action)
            resources = as_list(statement.get("Resource"))
            resource_ok = any(resource_matches(statement, form) for form in req.resources)
            if action_ok and not resource_ok:
                if "NotResource" in statement:
                    found.append(
                        f"{where} allows {req.action} on every resource except "
                        f"{', '.join(map(str, as_list(statement['NotResource'])))}, which "
                        f"excludes {wanted}"
                    )
                    continue
                shown = ", ".join(map(str, resources))
                if req.action == "logs:DescribeLogGroups" and isinstance(target, LogGroupTarget):
                    found.append(
                        f"{where} allows logs:DescribeLogGroups on {shown}, but it is a listing: "
                        f"AWS checks it on {target.listing_arn}, which a log group's ARN does "
                        f"not cover — grant it on {target.base}:*"
                    )
                else:
                    first = str(resources[0]) if resources else ""
                    found.append(
                        f"{where} allows {req.action} on {shown}, not on {wanted} "
                        f"({_arn_difference(first, wanted)})"
                    )
            elif resource_ok and not action_ok:
                for action in actions:
                    ratio = difflib.SequenceMatcher(
                        None, str(action).lower(), req.action.lower()
                    ).ratio()
                    if ratio >= 0.85:
                        found.append(
                            f"{where} allows {action} on it — not an action AWS knows for this; "
                            f"did you mean {req.action}?"
                        )
    return found


def name_near_misses(policies: list[Policy], checks: list[Check], target: Target) -> None:
    """Replace the generic "no Allow matches" with the statements that nearly allow it."""
    for check in checks:
        if not check.requirement.counts or check.decision.verdict != Verdict.NOT_ALLOWED:
            continue
        if check.decision.reason.startswith("the permissions boundary"):
            continue
        misses = _near_miss(check, policies, target)
        if misses:
            check.decision.reason = "near miss: " + "; ".join(misses)


# -- deny exemptions -----------------------------------------------------------------------


@cache
def _operations(service: str) -> tuple[str, ...]:
    """IAM action names of a service whose actions are its API operations (CloudWatch Logs)."""
    model = botocore.session.get_session().get_service_model(service)
    return tuple(f"{service}:{name}" for name in sorted(model.operation_names))


def _service(action: str) -> str:
    return action.split(":", 1)[0].lower()


def _exemption_resources(blocked: list[Requirement], target: Target) -> list[str]:
    """The resources to exempt: the Bedrock log group (or prefix), as the needed actions see it."""
    out: list[str] = []
    for req in blocked:
        if req.action == "s3:GetObject" and isinstance(target, BucketTarget):
            forms: tuple[str, ...] = (target.objects_pattern,)
        else:
            forms = req.resources
        out += [f for f in forms if f not in out]
    return out


def _probes(blocked: list[Requirement], target: Target) -> list[tuple[str, str]]:
    """(action, resource) pairs *outside* the exemption the original Deny covered: after the
    rewrite they must still be denied."""
    out = []
    for req in blocked:
        canonical = req.resources[0]
        if isinstance(target, LogGroupTarget):
            others = [canonical.replace(target.name, target.name + "-other")]
            if canonical == target.listing_arn:
                others = [canonical.replace(f":{target.region}:", ":xx-other-1:")]
        else:
            others = [canonical.replace(f":::{target.bucket}", f":::{target.bucket}-other")]
        out += [(req.action, other) for other in others if other != canonical]
    return out


def _covers_everything(resources: list[str], actions: list[str]) -> bool:
    """Does a Resource list cover every resource of these actions' services (``*``, ``arn:*``,
    ``arn:aws:logs:*``)? Then NotResource names the same set outside the exemption."""
    probe = {
        "logs": "arn:aws:logs:zz-probe-1:000000000000:log-group:probe-group:*",
        "s3": "arn:aws:s3:::probe-bucket-zz/probe/key",
    }
    for action in actions:
        sample = probe.get(_service(action), "*")
        if not any(matches(str(r), sample) for r in resources):
            return False
    return True


def _within(resources: list[str], exempt: list[str]) -> bool:
    """Is every resource the statement names inside the exemption (it only guards our group)?"""
    for resource in resources:
        instance = str(resource).replace("*", "x").replace("?", "x")
        if not any(matches(e, instance) or e == resource for e in exempt):
            return False
    return True


def _remaining_actions(
    statement: dict[str, Any], blocked_actions: list[str], service: str, resources: list[str]
) -> tuple[dict[str, Any] | None, bool, str]:
    """The statement's actions without the blocked ones, as an Action/NotAction element.

    Returns (element or ``None`` when nothing remains, exact, how). *Exact* means the element
    denies on ``resources`` precisely what the statement denied there minus the blocked
    actions; a ``*`` or ``logs:*`` wildcard is exact only as ``NotAction`` on resources of that
    one service (elsewhere it would deny every other service too).
    """
    blocked_lower = {a.lower() for a in blocked_actions}
    if "NotAction" in statement:
        kept = [str(a) for a in as_list(statement["NotAction"])]
        extra = [a for a in blocked_actions if a.lower() not in {k.lower() for k in kept}]
        return {"NotAction": kept + extra}, True, ""
    actions = [str(a) for a in as_list(statement.get("Action"))]
    exact = [a for a in actions if "*" not in a and "?" not in a and a.lower() not in blocked_lower]
    wild = [a for a in actions if "*" in a or "?" in a]
    covering = [
        w for w in wild if any(matches(w, b, case_insensitive=True) for b in blocked_actions)
    ]
    if any(w == "*" or w.lower() == f"{service}:*" for w in covering):
        one_service = (
            bool(resources)
            and all(
                str(r).split(":")[2:3] == [service] for r in resources if str(r).startswith("arn:")
            )
            and all(str(r).startswith("arn:") for r in resources)
        )
        return {"NotAction": sorted(blocked_actions)}, one_service, ""
    spelled: list[str] = []
    how = ""
    for w in wild:
        if w not in covering:
            spelled.append(w)
            continue
        if service != "logs":
            return None, False, ""
        spelled += [
            op
            for op in _operations("logs")
            if matches(w, op, case_insensitive=True) and op.lower() not in blocked_lower
        ]
        how = (
            f" A wildcard cannot list exceptions, so {w} is spelled out from the CloudWatch "
            "Logs API's operations (actions AWS adds later are not in the list)."
        )
    others = exact + [a for a in spelled if a not in exact]
    return ({"Action": others} if others else None), True, how


def _label(target: Target) -> str:
    if isinstance(target, LogGroupTarget):
        return f"the log group {target.name}"
    return f"s3://{target.bucket}/{target.clean_prefix}AWSLogs/"


def _sid(base: str, suffix: str) -> str:
    clean = _SID_CHARS.sub("", base) or "Deny"
    return clean + suffix


def _describe_actions(statement: dict[str, Any]) -> str:
    if "NotAction" in statement:
        return "every action except " + ", ".join(map(str, as_list(statement["NotAction"])))
    return ", ".join(map(str, as_list(statement.get("Action"))))


def _exempt(
    statement: dict[str, Any], blocked: list[Requirement], target: Target
) -> tuple[list[dict[str, Any]] | None, str, str]:
    """The statement rewritten into the narrowest exemption: (statements, what it still
    denies, how). ``None`` when no rewrite keeps the Deny's purpose (it guards only our read).

    The preferred form splits the statement: its other actions stay denied exactly where they
    were, and the blocked reads get a Deny of their own that exempts the Bedrock logs with
    ``NotResource``. When the other actions cannot be written on their own (``logs:*`` on
    ``*``), the whole statement exempts the Bedrock logs and a second statement keeps denying
    everything but the reads there.
    """
    blocked_actions = [r.action for r in blocked]
    exempt = _exemption_resources(blocked, target)
    service = _service(blocked_actions[0])
    resources = [str(r) for r in as_list(statement.get("Resource"))]
    sid = str(statement.get("Sid") or "Deny")
    where = _label(target)
    condition = {"Condition": statement["Condition"]} if "Condition" in statement else {}
    only_ours = (
        "Resource" in statement
        and _within(resources, exempt)
        and "NotAction" not in statement
        and all(
            any(matches(a, b, case_insensitive=True) for b in blocked_actions)
            for a in map(str, as_list(statement.get("Action")))
        )
    )
    if only_ours:
        return (
            None,
            "",
            "This statement denies only what Bedrock Explorer needs, only on "
            f"{where}: it exists to stop exactly this read. Ask its owner whether the integration "
            "may read these logs; only then remove it.",
        )
    if "NotResource" in statement:
        kept = [str(r) for r in as_list(statement["NotResource"])]
        outside: dict[str, Any] = {"NotResource": kept + [e for e in exempt if e not in kept]}
        scope, widened = "every resource it covered before", ""
    elif _covers_everything(resources, blocked_actions):
        outside, scope, widened = {"NotResource": exempt}, "every resource it covered before", ""
    else:
        outside, scope = {"NotResource": exempt}, ", ".join(resources)
        widened = (
            f" {', '.join(blocked_actions)} is now denied on every resource except {where} — "
            f"wider than before ({scope}): check that this role reads nothing else with it."
        )
    rest, exact, how = _remaining_actions(statement, blocked_actions, service, resources)
    reads = ", ".join(blocked_actions)
    if exact or widened:
        out: list[dict[str, Any]] = []
        if rest is not None:
            keep = {k: v for k, v in statement.items() if k not in ("Action", "NotAction")}
            out.append({**keep, **rest})
        out.append(
            {
                "Sid": _sid(sid, "ExceptBedrockLogs"),
                "Effect": "Deny",
                "Action": blocked_actions,
                **outside,
                **condition,
            }
        )
        others = (
            f"It still denies {_describe_actions(out[0])} where it did, the Bedrock logs included; "
            if rest is not None
            else ""
        )
        still = f"{others}{reads} stays denied on {scope}, except on {where}.{widened}"
        return out, still, f"The blocked reads get a Deny of their own with NotResource.{how}"
    # The other actions cannot stand alone: exempt the Bedrock logs from the whole statement,
    # and keep denying there everything but the reads.
    elsewhere = {k: v for k, v in statement.items() if k not in ("Resource", "NotResource")}
    out = [{**elsewhere, **outside}]
    guard_actions, _, guard_how = _remaining_actions(statement, blocked_actions, service, exempt)
    if guard_actions is not None:
        out.append(
            {
                "Sid": _sid(sid, "OnBedrockLogs"),
                "Effect": "Deny",
                **guard_actions,
                "Resource": exempt,
                **condition,
            }
        )
    still = (
        f"It still denies {_describe_actions(statement)} on {scope} except {where}; on {where} "
        f"it still denies everything it did but {reads}."
    )
    return out, still, "NotResource exempts the Bedrock logs and nothing else." + guard_how


def _verify(
    policies: list[Policy],
    ref: StatementRef,
    rewritten: list[dict[str, Any]],
    blocked: list[Requirement],
    target: Target,
    boundary: Policy | None,
) -> tuple[dict[str, Any], bool]:
    """The policy with the statement replaced, and whether the evaluator confirms the rewrite:
    the blocked reads are no longer denied, and the probes outside the exemption still are."""
    originals = {p.name: p for p in policies}
    policy = originals[ref.policy]
    document = copy.deepcopy(policy.document)
    listed = as_list(document.get("Statement"))
    new_statements: list[Any] = []
    for index, statement in enumerate(s for s in listed if isinstance(s, dict)):
        new_statements += rewritten if index == ref.index else [statement]
    document["Statement"] = new_statements
    fixed = [Policy(p.name, document, p.kind) if p.name == ref.policy else p for p in policies]
    for req in blocked:
        for form in req.resources:
            after = evaluate(fixed, req.action, form, boundary)
            by_rewrite = any(
                d.policy == ref.policy and d.statement in rewritten for d in after.deciding
            )
            if by_rewrite and after.verdict == Verdict.DENIED:
                return document, False
    before = Policy(ref.policy, {"Statement": [ref.statement]})
    after_policy = Policy(ref.policy, {"Statement": rewritten})
    blocked_lower = {r.action.lower() for r in blocked}
    others = [
        str(a)
        for a in as_list(ref.statement.get("Action"))
        if "*" not in str(a) and "?" not in str(a) and str(a).lower() not in blocked_lower
    ]
    sample = _DESTRUCTIVE.get(_service(blocked[0].action))
    others += [sample] if sample else []
    # On the Bedrock logs themselves, the statement's other actions must stay denied too.
    on_target = [(a, form) for a in others for req in blocked for form in req.resources]
    for action, resource in [*_probes(blocked, target), *on_target]:
        if evaluate([before], action, resource).verdict != Verdict.DENIED:
            continue  # the original did not guard it either
        if evaluate([after_policy], action, resource).verdict != Verdict.DENIED:
            return document, False
    return document, True


def deny_exemptions(
    policies: list[Policy], checks: list[Check], target: Target, boundary: Policy | None = None
) -> list[dict[str, Any]]:
    """For each explicit Deny blocking a needed action: the narrowest exemption, verified."""
    blocked: dict[tuple[str, int], tuple[StatementRef, list[Requirement]]] = {}
    for c in checks:
        if not c.requirement.counts or c.decision.verdict != Verdict.DENIED:
            continue
        for ref in c.decision.deciding:
            if ref.policy == (boundary.name if boundary else None):
                continue
            entry = blocked.setdefault((ref.policy, ref.index), (ref, []))
            if c.requirement not in entry[1]:
                entry[1].append(c.requirement)
    out = []
    for ref, reqs in blocked.values():
        rewritten, still, how = _exempt(ref.statement, reqs, target)
        item: dict[str, Any] = {
            "policy": ref.policy,
            "statement": ref.sid,
            "blocks": [r.action for r in reqs],
            "original": ref.statement,
            "statements": rewritten,
            "still_denies": still,
            "note": how,
            "policy_document": None,
            "verified": False,
        }
        if rewritten is not None:
            document, ok = _verify(policies, ref, rewritten, reqs, target, boundary)
            if ok:
                item["policy_document"], item["verified"] = document, True
            else:
                item["statements"] = None
                item["note"] = (
                    "No exemption could be written that the evaluator confirms; rewrite the "
                    f"statement so that it no longer denies {', '.join(item['blocks'])} on "
                    f"{_label(target)}."
                )
        out.append(item)
    return out
