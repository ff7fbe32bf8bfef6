"""Who may do what: the sign-in allow-list, the viewer and admin roles, and the server-side check.

Why here and not in the pages: hiding a button is not a permission. Every state-changing code
path (``Store`` methods, the sync, price overrides, the price-list refresh, the demo data) calls
:func:`require_admin` with the acting user, so a tampered page, a forged websocket message or a
future page that forgets to hide a control is refused in the same place that would make the
change.

The rules come from the ``[access]`` section of ``.streamlit/secrets.toml`` (next to Streamlit's
``[auth]`` section, which turns sign-in on)::

    [access]
    admins  = ["alice@example.com"]        # e-mail addresses, or "@example.com" for a domain
    viewers = ["@example.com"]             # "*" = anyone the identity provider lets sign in
    role_claim = "groups"                  # optional: roles from an ID-token claim
    admin_values = ["finops-admins"]
    viewer_values = ["finops"]

A user matching an admin rule is an admin; otherwise one matching a viewer rule is a viewer;
anyone else is refused. Without sign-in (a single local user) there is one user, the OS user, and
they are an admin. The CLI is always the OS user: whoever can run it can read the file anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bedrock_explorer.errors import UserFacingError


class Role(StrEnum):
    ADMIN = "admin"
    VIEWER = "viewer"


class NotAllowedError(UserFacingError):
    """A viewer (or a refused user) asked for something only an admin may do."""


class AccessConfigError(UserFacingError):
    """The ``[access]`` section of secrets.toml cannot be understood."""


_LISTS = ("admins", "viewers", "admin_values", "viewer_values")
_KNOWN = {*_LISTS, "role_claim"}


@dataclass(frozen=True)
class Decision:
    """The outcome of a sign-in: a role, or ``None`` and the sentence that says why not."""

    identity: str
    role: Role | None
    reason: str


@dataclass(frozen=True)
class AccessRules:
    """The allow-list and the claim mapping (see the module docstring for the format)."""

    admins: tuple[str, ...] = ()
    viewers: tuple[str, ...] = ()
    role_claim: str | None = None
    admin_values: tuple[str, ...] = ()
    viewer_values: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, section: Mapping[str, Any] | None) -> AccessRules:
        """Read the ``[access]`` section; a typo or a wrong type is an error with the fix, never
        a silently empty (or silently open) allow-list."""
        section = dict(section or {})
        unknown = sorted(set(section) - _KNOWN)
        if unknown:
            raise AccessConfigError(
                f"Unknown setting(s) in [access] of secrets.toml: {', '.join(unknown)}",
                f"use only {', '.join(sorted(_KNOWN))}",
            )
        lists: dict[str, tuple[str, ...]] = {}
        for key in _LISTS:
            value = section.get(key, [])
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise AccessConfigError(
                    f"[access] {key} in secrets.toml must be a list of strings",
                    f'write it as {key} = ["…", "…"]',
                )
            lists[key] = tuple(v.strip() for v in value if v.strip())
        claim = section.get("role_claim")
        if claim is not None and (not isinstance(claim, str) or not claim.strip()):
            raise AccessConfigError(
                "[access] role_claim in secrets.toml must be the name of an ID-token claim",
                'for example role_claim = "groups"',
            )
        if (lists["admin_values"] or lists["viewer_values"]) and not claim:
            raise AccessConfigError(
                "[access] admin_values / viewer_values need role_claim in secrets.toml",
                'name the ID-token claim that holds them, e.g. role_claim = "groups"',
            )
        return cls(
            admins=tuple(v.lower() for v in lists["admins"]),
            viewers=tuple(v.lower() for v in lists["viewers"]),
            role_claim=claim.strip() if claim else None,
            admin_values=lists["admin_values"],
            viewer_values=lists["viewer_values"],
        )

    @property
    def empty(self) -> bool:
        return not (self.admins or self.viewers or self.admin_values or self.viewer_values)

    def decide(self, claims: Mapping[str, Any]) -> Decision:
        """The role of a signed-in user from their ID-token claims (``st.user``)."""
        identity = identity_of(claims)
        email = str(claims.get("email") or "").strip().lower()
        if self.empty:
            return Decision(
                identity,
                None,
                "Sign-in is on but no one is allowed in yet: an admin adds e-mail addresses or "
                "domains under [access] in .streamlit/secrets.toml (see the README).",
            )
        if email and claims.get("email_verified") is False:
            return Decision(
                identity,
                None,
                f"Your identity provider says the e-mail address {email} is not verified, so it "
                "cannot be matched against the allow-list. Verify it with your provider, then "
                "sign in again.",
            )
        values = _claim_values(claims.get(self.role_claim)) if self.role_claim else set()
        if _listed(email, self.admins) or values & set(self.admin_values):
            return Decision(identity, Role.ADMIN, "admin")
        if _listed(email, self.viewers) or values & set(self.viewer_values):
            return Decision(identity, Role.VIEWER, "viewer")
        who = email or identity
        return Decision(
            identity,
            None,
            f"{who} is not on this dashboard's allow-list. Ask its admin to add you (or your "
            "domain or group) under [access] in .streamlit/secrets.toml.",
        )


def identity_of(claims: Mapping[str, Any]) -> str:
    """The name recorded in the audit trail: the e-mail, else the username, else the subject."""
    for key in ("email", "preferred_username", "sub"):
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip().lower() if key == "email" else value.strip()
    return "unknown user"


def _claim_values(value: Any) -> set[str]:
    """A claim as a set of strings: ``groups`` is a list at most providers, a string at some."""
    if value is None:
        return set()
    if isinstance(value, str):
        return {v for v in value.replace(",", " ").split() if v}
    if isinstance(value, Iterable):
        return {str(v) for v in value}
    return {str(value)}


def _listed(email: str, entries: tuple[str, ...]) -> bool:
    """An exact address, a whole domain (``@example.com`` or ``example.com``) or ``*``.

    A domain matches that domain only, not a look-alike ending (``evil-example.com``) nor a
    subdomain: a company that wants ``eu.example.com`` lists it.
    """
    if "*" in entries:
        return True
    if not email or "@" not in email:
        return False
    domain = email.rsplit("@", 1)[1]
    for entry in entries:
        if entry == email:
            return True
        if entry.lstrip("@") == domain and "@" not in entry.lstrip("@"):
            return True
    return False


def require_admin(role: Role, action: str) -> None:
    """Refuse ``action`` unless the acting user is an admin (the server-side check)."""
    if role is not Role.ADMIN:
        raise NotAllowedError(
            f"Only an admin may do this ({action}); you are signed in as a viewer",
            "ask an admin of this dashboard, or to be made one under [access] in secrets.toml",
        )


def sign_in_providers(auth: Mapping[str, Any] | None) -> list[str | None]:
    """The identity providers configured under ``[auth]`` of secrets.toml, as ``st.login``
    takes them: ``None`` for the unnamed one (``client_id`` directly under ``[auth]``), the
    name of each ``[auth.NAME]`` section otherwise. Empty: sign-in is off."""
    if not auth:
        return []
    named = [
        str(key)
        for key, value in auth.items()
        if isinstance(value, Mapping) and "client_id" in value and key != "client_kwargs"
    ]
    return ([None] if "client_id" in auth else []) + sorted(named)
