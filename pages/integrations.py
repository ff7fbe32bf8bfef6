"""Integrations: where the logs come from, their status, and the 4-step setup wizard.

Layout only: every AWS call and every query is in ``bedrock_explorer``. The wizard keeps what was
entered in ``st.session_state["wizard"]`` (not in widget keys, which Streamlit forgets when a step
is not drawn), so Back/Next and leaving the page keep it; nothing is saved before step 3.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import streamlit as st

from bedrock_explorer import demo, setup_wizard
from bedrock_explorer.display import md, money, table_for_screen
from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.integration_list import integrations_frame, source_label, status_label
from bedrock_explorer.sources import registry
from bedrock_explorer.sources.cloudwatch.settings import CloudWatchSettings
from bedrock_explorer.sources.s3.settings import S3Settings
from bedrock_explorer.sources.settings import (
    DEFAULT_FIRST_SYNC_DAYS,
    Auth,
    RemoteSettings,
    SourceSettings,
)
from bedrock_explorer.store import Store
from bedrock_explorer.sync import integration_session
from bedrock_explorer.sync_schedule import SCHEDULES, next_run
from bedrock_explorer.verify import FAIL, PASS, SKIP, WARN, ConnectionReport, check_connection
from pages._common import (
    actor,
    admin_only,
    is_admin,
    jobs,
    open_store,
    show_iam_report,
    sidebar,
    through_the_app,
)

STEPS = ("Enable model invocation logs", "IAM permissions", "Set up", "Verify")
MARKS = {PASS: "✔", WARN: "⚠", FAIL: "✖", SKIP: "–"}
KINDS = {cls.label: cls.kind for cls in registry.SETTINGS}
AUTH_LABELS = {
    "Default credentials": "default",
    "Named profile": "profile",
    "Assume a role": "role",
}
T = TypeVar("T")
REACH = {"7 days": 7, "30 days": 30, "90 days": 90, "1 year": 365}
STATUS_ICONS = {
    "Active": ":material/check_circle:",
    "Syncing": ":material/sync:",
    "Error": ":material/error:",
    "Never synced": ":material/schedule:",
    "Interrupted": ":material/pause_circle:",
    "Demo data": ":material/science:",
}


#: The wizard's state when it opens: the shared settings, then every kind's fields (a local
#: folder is one text field, ``path``).
BLANK: dict[str, Any] = {
    "step": 1,
    "region": "us-east-1",
    "auth_mode": "default",
    "profile": "",
    "role_arn": "",
    "external_id": "",
    "kind": registry.KIND_NAMES[0],
    **{f.name: "" for kind in registry.SETTINGS for f in kind.fields if f.name != "paths"},
    "path": "",
    "name": "",
    "days": DEFAULT_FIRST_SYNC_DAYS,
    "saved": None,
}


def wizard() -> dict[str, Any]:
    return st.session_state.setdefault("wizard", dict(BLANK))


def settings_of(w: dict[str, Any]) -> SourceSettings:
    """The wizard's fields as the chosen kind's settings."""
    kind = registry.settings_class(w["kind"])
    fields = kind.field_values({**w, "paths": w["path"]})
    if not issubclass(kind, RemoteSettings):
        return kind(**fields)
    access = access_of(w)
    return kind(region=access.region, auth=access.auth, first_sync_days=int(w["days"]), **fields)


def access_of(w: dict[str, Any]) -> RemoteSettings:
    """Where and how to sign in to AWS (steps 1 and 2), whatever the source will be."""
    auth = Auth(
        w["auth_mode"],
        profile=w["profile"].strip() or None,
        role_arn=w["role_arn"].strip() or None,
        external_id=w["external_id"].strip() or None,
    )
    return RemoteSettings(region=w["region"].strip(), auth=auth)


def aws_settings_of(w: dict[str, Any]) -> RemoteSettings:
    """The wizard's settings for a source in AWS (the IAM step offers nothing else)."""
    settings = settings_of(w)
    if not isinstance(settings, RemoteSettings):
        raise UserFacingError("A local folder needs no AWS permissions", "choose where logs are")
    return settings


def show_checks(report: ConnectionReport) -> None:
    for check in report.checks:
        line = f"{MARKS[check.status]} **{md(check.name)}** — {md(check.message)}"
        if check.fix:
            line += f"  \n→ {md(check.fix)}"
        {PASS: st.success, WARN: st.warning, FAIL: st.error, SKIP: st.info}[check.status](line)


def nav(w: dict[str, Any], *, back: bool = True, next_label: str | None = "Next") -> bool:
    cols = st.columns([1, 2, 5])  # room for "Save and continue" on one line
    if back and cols[0].button("Back", key=f"back_{w['step']}", icon=":material/arrow_back:"):
        w["step"] -= 1
        st.rerun()
    if next_label:
        return cols[1].button(next_label, key=f"next_{w['step']}", type="primary")
    return False


def step_logging(w: dict[str, Any]) -> None:
    st.markdown(
        "Bedrock writes one record per model invocation **only when model invocation logging is "
        "on** (Bedrock console → *Settings* → *Model invocation logging*). Turn it on with "
        "*Text* ticked and CloudWatch Logs or S3 as the destination; Bedrock Explorer keeps only "
        "the metadata and token counts, never the prompt or response text."
    )
    c1, c2 = st.columns(2)
    w["region"] = c1.text_input("AWS region of the logs", value=w["region"], key="wz_region")
    w["auth_mode"] = choose("Authentication", AUTH_LABELS, w["auth_mode"], key="wz_auth", where=c2)
    if w["auth_mode"] in ("profile", "role"):
        w["profile"] = c1.text_input(
            "Profile"
            + (" (source of the role; empty: default)" if w["auth_mode"] == "role" else ""),
            value=w["profile"],
            key="wz_profile",
        )
    if w["auth_mode"] == "role":
        w["role_arn"] = c2.text_input(
            "Role ARN",
            value=w["role_arn"],
            placeholder="arn:aws:iam::123456789012:role/Name",
            key="wz_role",
        )
        w["external_id"] = c2.text_input(
            "External id (if the role requires one)",
            value=w["external_id"],
            key="wz_extid",
            type="password",
        )
    st.caption("No secret is stored: only how to obtain credentials.")
    if st.button("Check logging configuration", icon=":material/fact_check:"):
        try:
            access = access_of(w)
            access.auth.validate()
            found = setup_wizard.check_logging(access)
            w["caller_arn"], w["account"] = found.caller_arn, found.account
            w.pop("logging", None)
            w["logging_problem"] = found.problem
            if found.problem is None:
                w["logging"] = found.destinations
            if found.destinations and found.destinations.log_group and not w["log_group"]:
                w["log_group"], w["kind"] = found.destinations.log_group, CloudWatchSettings.kind
            elif found.destinations and found.destinations.bucket and not w["bucket"]:
                w["bucket"], w["prefix"] = found.destinations.bucket, found.destinations.prefix
                if not found.destinations.log_group:
                    w["kind"] = S3Settings.kind
        except UserFacingError as err:
            w.pop("logging", None)
            st.error(md(err))
    if w.get("logging_problem") is not None:
        st.caption(f"Signed in as `{w['caller_arn']}`")
        st.warning(md(w["logging_problem"]), icon=":material/visibility_off:")
    if "caller_arn" in w and "logging" in w:
        st.caption(f"Signed in as `{w['caller_arn']}`")
        found = w["logging"]
        if found is None:
            st.error(
                f"Model invocation logging is **off** in {w['region']}: Bedrock records nothing to "
                "analyse. Turn it on as described above, then check again."
            )
        else:
            st.success(f"Logging is on in {w['region']}, delivering to {found.describe()}.")
            if not found.text:
                st.warning(
                    "Text delivery is off: text-model invocations are not logged. Tick *Text*."
                )
    if nav(w, back=False):
        w["step"] = 2
        st.rerun()


def choose(
    label: str,
    options: dict[str, T],
    current: T,
    *,
    key: str,
    default: T | None = None,
    where: Any = st,
) -> T:
    """A horizontal radio over labelled values, showing ``current`` (else ``default``) chosen;
    ``where`` is the container (a column) to draw it in."""
    values = list(options.values())
    chosen = current if current in values else default
    index = values.index(chosen) if chosen in values else 0
    return options[where.radio(label, list(options), index=index, horizontal=True, key=key)]


def source_fields(
    w: dict[str, Any], kind: type[SourceSettings], *, suffix: str = "", picker: bool = False
) -> None:
    """The chosen kind's fields, side by side, from its field spec. With ``picker``, a field the
    source can list (a CloudWatch log group) is offered as a choice of the account's names,
    which fills the field below it (a name can still be typed)."""
    cols = st.columns(len(kind.fields))
    for col, spec in zip(cols, kind.fields, strict=True):
        slot = "path" if spec.name == "paths" else spec.name  # the wizard asks for one folder
        key = f"wz_{spec.name}{suffix}"
        if picker and spec.pick_label:
            known: dict[str, list[str]] = w.setdefault("known", {})  # per kind: kinds switch
            if kind.kind not in known:
                known[kind.kind] = setup_wizard.known_values(settings_of(w))
            names = known[kind.kind]
            if key not in st.session_state:
                st.session_state[key] = w[slot]
            if names:
                choices = ["(type a name)", *names]
                pick = col.selectbox(
                    spec.pick_label,
                    choices,
                    index=choices.index(w[slot]) if w[slot] in names else 0,
                    key="wz_pick",
                )
                if pick != "(type a name)" and pick != w.get("picked"):
                    st.session_state[key] = pick  # the picked name fills the field below
                w["picked"] = pick
            w[slot] = col.text_input(spec.label, key=key)
        else:
            w[slot] = col.text_input(spec.label, value=w[slot], key=key)


def step_iam(w: dict[str, Any]) -> None:
    st.markdown(
        "The integration needs read access to the logs: `logs:DescribeLogGroups`, "
        "`logs:FilterLogEvents` … (or `s3:ListBucket`, `s3:GetObject`). This step reads the "
        "policies of the role your credentials use and evaluates them — **nothing is changed in "
        "AWS**; if something is missing you get the exact policy to paste."
    )
    w["kind"] = choose("Logs are in", KINDS, w["kind"], key="wz_kind_iam")
    if not registry.reads_aws(w["kind"]):
        st.info("A local folder needs no AWS permissions.")
    else:
        source_fields(w, registry.settings_class(w["kind"]), suffix="_iam")
        if st.button("Check permissions", icon=":material/policy:"):
            try:
                settings = aws_settings_of(w)
                settings.validate()
                if "account" not in w:
                    found = setup_wizard.check_logging(settings)
                    w["caller_arn"], w["account"] = found.caller_arn, found.account
                w["iam"] = setup_wizard.check_iam(settings, w["account"], w["caller_arn"])
            except UserFacingError as err:
                w.pop("iam", None)
                st.error(md(err))
    result = w.get("iam")
    if result is not None and registry.reads_aws(w["kind"]):
        if result.report is None:
            st.info(result.note)
        else:
            st.caption(f"Role checked: `{result.role_arn}`")
            show_iam_report(result.report, result.simulated)
            if not result.report.ok:
                st.caption("Apply the fix in AWS, then *Check permissions* again.")
    if nav(w):
        w["step"] = 3
        st.rerun()


def step_setup(w: dict[str, Any], store: Store) -> None:
    w["name"] = st.text_input(
        "Integration name",
        value=w["name"],
        placeholder="e.g. Production us-east-1",
        help="Unique and descriptive: it labels this source in every chart and export.",
        key="wz_name",
    )
    w["kind"] = choose("Source", KINDS, w["kind"], key="wz_kind")
    kind = registry.settings_class(w["kind"])
    source_fields(w, kind, picker=True)
    if kind.remote:
        w["days"] = choose(
            "First sync reaches back",
            REACH,
            w["days"],
            key="wz_days",
            default=DEFAULT_FIRST_SYNC_DAYS,
        )
    if nav(w, next_label="Save and continue"):
        try:
            settings = settings_of(w)
            settings.validate()
            known = (w.get("known") or {}).get(settings.kind) or []
            registry.source(settings.kind).check_known(settings, known)
            if w.get("saved"):
                store.update_integration_config(w["saved"], settings.to_config())
                store.rename_integration(w["saved"], w["name"])
            else:
                store.add_integration(w["name"], settings.kind, settings.to_config())
            w["saved"] = w["name"].strip()
            w["step"] = 4
            st.rerun()
        except UserFacingError as err:
            st.error(md(err))


def step_verify(w: dict[str, Any], store: Store) -> None:
    name = w["saved"]
    integ = store.get_integration(name)
    settings = registry.settings_from_config(integ.kind, integ.config)
    st.markdown(f"**{md(name)}** — {md(settings.describe())}")
    if settings.remote:
        if "report" not in w:
            w["report"] = check_connection(settings)
        show_checks(w["report"])
        if st.button("Test again", icon=":material/refresh:"):
            w.pop("report", None)
            st.rerun()
    ready = not settings.remote or w["report"].ok
    job = jobs().get(name) if w.get("sync_started") else None
    if job is not None and job.running:
        sync_panel(name)
        return
    if job is not None and job.ok and job.summary is not None:
        w["synced"] = job.summary.describe()
    if w.get("synced"):
        st.success(md(w["synced"]))
        st.page_link(
            "pages/explorer.py",
            label=f"See the costs of {md(name)}",
            icon=":material/bar_chart:",
            query_params={"integrations": name},
        )
        if st.button("Done", type="primary"):
            del st.session_state["wizard"]
            st.rerun()
        return
    if job is not None and job.error is not None:
        st.error(md(job.error))
    cols = st.columns([1, 2, 5])
    if cols[0].button("Back", icon=":material/arrow_back:"):
        w["step"] = 3
        st.rerun()
    label = "Run the first sync" if job is None else "Sync again"
    if cols[1].button(label, type="primary", disabled=not ready):
        jobs().start(name, actor=actor())
        w["sync_started"] = True
        st.rerun()


@st.fragment(run_every=1.0)
def sync_panel(name: str) -> None:
    """The live progress of a background sync, every second; when it ends, the page reruns
    once to show the result (the sync itself never depends on this panel being drawn)."""
    job = jobs().get(name)
    if job is None:
        return
    watching: set[str] = st.session_state.setdefault("watching_syncs", set())
    if job.running:
        watching.add(name)
        st.progress(
            job.fraction(),
            text=md(f"{job.message}: {job.describe(datetime.now(UTC))}"),
        )
        st.caption(
            "The sync runs in the dashboard's background: switch pages, reload or close the tab "
            "— it carries on, and every tab shows its progress."
        )
    elif name in watching:
        watching.discard(name)
        st.rerun()


def show_wizard(store: Store) -> None:
    w = wizard()
    st.subheader("Add a Bedrock integration")
    st.caption(
        " → ".join(
            f"**{i}. {s}**" if i == w["step"] else f"{i}. {s}" for i, s in enumerate(STEPS, start=1)
        )
    )
    st.progress(w["step"] / len(STEPS))
    if w["step"] == 1:
        step_logging(w)
    elif w["step"] == 2:
        step_iam(w)
    elif w["step"] == 3:
        step_setup(w, store)
    else:
        step_verify(w, store)
    st.divider()
    if st.button("Cancel", icon=":material/close:", key="wz_cancel"):
        if w.get("saved") and not w.get("synced"):
            st.info(f"{md(w['saved'])} stays saved; sync or delete it from the list.")
        del st.session_state["wizard"]
        st.rerun()


def show_list(store: Store) -> None:
    admin = is_admin()  # once: every card asks
    integrations = store.list_integrations()
    if not integrations:
        st.info(
            "**No integrations yet.** An *integration* is one place your Bedrock model invocation "
            "logs live — a CloudWatch Logs log group, an S3 delivery bucket, or a folder — with "
            "how to sign in to read it. "
            + (
                "Add one, or explore first with the demo data."
                if admin
                else "An admin of this dashboard adds them; you will see them here."
            ),
            icon=":material/info:",
        )
        if admin and st.button("Load demo data", icon=":material/science:"):
            with st.spinner("Loading demo data…"):
                demo.load_demo(store)
            st.rerun()
        return
    frame = integrations_frame(store).set_index("integration")
    background = jobs()
    for integ in integrations:
        row: dict[Any, Any] = frame.loc[integ.name].to_dict()
        status = status_label(integ)
        with st.container(border=True):
            top = st.columns([4, 2, 2, 2])
            top[0].markdown(f"#### {md(integ.name)}")
            top[0].caption(md(source_label(integ.kind, integ.config)))
            top[1].markdown(f"{STATUS_ICONS[status]} **{status}**")
            top[2].metric("Invocations", f"{int(row['invocations']):,}")
            top[3].metric(
                "Cost (USD)",
                money(row["cost_usd"]),
                help=f"Price status: {row['price_status']}"
                + (
                    f"; {int(row['unpriced_tokens']):,} tokens have no price and are not in it"
                    if row["unpriced_tokens"]
                    else ""
                ),
            )
            if row["first_invocation"] is not None and str(row["first_invocation"]) != "NaT":
                st.caption(
                    f"Invocations from {row['first_invocation']:%Y-%m-%d} to "
                    f"{row['last_invocation']:%Y-%m-%d %H:%M} UTC"
                )
            job = background.get(integ.name)
            if job is not None and job.running:
                sync_panel(integ.name)
            elif status == "Syncing":
                st.info(
                    f"A sync started by another process (pid {integ.last_sync_pid}, e.g. cron) is "
                    "running; its results appear here when it ends.",
                    icon=":material/sync:",
                )
            if integ.last_success_at:
                st.caption(
                    f"Last successful sync {integ.last_success_at:%Y-%m-%d %H:%M} UTC — "
                    + md(integ.last_success_message or "")
                )
            if status == "Error":
                st.error(md(integ.last_sync_message or "the last sync failed"))
            if status == "Interrupted":
                st.warning(
                    "The last sync stopped before it finished (its process is gone). What it "
                    "stored is kept; *Sync now* resumes where it stopped."
                )
            if integ.is_demo:
                continue
            if registry.reads_aws(integ.kind):
                coverage_panel(store, integ, admin)
            bill_panel(store, integ, admin)
            if not admin:  # a viewer sees the state, never a control that changes it
                when = next_run(integ, datetime.now(UTC))
                if when is not None:
                    st.caption(f"Next scheduled sync: {when:%Y-%m-%d %H:%M} UTC")
                continue
            running = job is not None and job.running
            actions = st.columns(4)
            if actions[0].button(
                "Sync now", key=f"sync_{integ.id}", icon=":material/sync:", disabled=running
            ):
                background.start(integ.name, actor=actor())
                st.rerun()
            if registry.reads_aws(integ.kind) and actions[1].button(
                "Test connection", key=f"test_{integ.id}", icon=":material/fact_check:"
            ):
                show_checks(
                    check_connection(registry.settings_from_config(integ.kind, integ.config))
                )
            if actions[2].button("Edit", key=f"edit_{integ.id}", icon=":material/edit:"):
                st.session_state["wizard"] = edit_state(integ)
                st.rerun()
            if actions[3].button(
                "Delete", key=f"delete_{integ.id}", icon=":material/delete:", disabled=running
            ):
                st.session_state["confirm_delete"] = integ.name
            schedule_picker(store, integ)
            if st.session_state.get("confirm_delete") == integ.name:
                count = int(row["invocations"])
                st.warning(
                    f"Delete **{md(integ.name)}** and its **{count:,} stored invocations**? "
                    "The logs in AWS are not touched; a new sync can fetch them again."
                )
                yes, no = st.columns([1, 6])
                if yes.button("Delete", type="primary", key=f"confirm_{integ.id}"):
                    removed = store.remove_integration(integ.name)
                    background.forget(integ.name)
                    st.session_state.pop("confirm_delete", None)
                    st.toast(f"Deleted {md(integ.name)} and {removed:,} invocations")
                    st.rerun()
                if no.button("Keep it", key=f"keep_{integ.id}"):
                    st.session_state.pop("confirm_delete", None)
                    st.rerun()


#: The days the Coverage panel reads and shows (UTC, today included).
COVERAGE_DAYS = 14


def coverage_panel(store: Store, integ: Any, admin: bool) -> None:
    """What the logs miss for this integration's account: regions without logging (with the
    fix), logged vs measured per region and day, log-delivery failures. The figures are the
    ones ``coverage`` prints; *Refresh coverage* reads them from AWS (admins)."""
    from bedrock_explorer.coverage import measure, report

    end = datetime.now(UTC).date()
    start = end - timedelta(days=COVERAGE_DAYS - 1)
    names = (integ.name,)
    with st.expander("Coverage: what the logs miss", icon=":material/radar:"):
        if admin and st.button(
            "Refresh coverage", key=f"coverage_{integ.id}", icon=":material/refresh:",
            help="Reads the logging configuration of each region and the AWS/Bedrock metrics "
            f"of the last {COVERAGE_DAYS} days (GetMetricData: $0.01 per 1,000 metrics)",
        ):  # fmt: skip
            try:
                with st.spinner("Reading the logging configuration and the metrics…"):
                    session = integration_session(integ)  # an AWS kind (reads_aws)
                    got = measure.refresh(store, integ.name, session, start, end)
            except UserFacingError as err:
                st.error(md(err), icon=":material/error:")
            else:
                st.toast(f"Coverage read: {len(got.regions)} regions, {got.metrics_asked:,} "
                         "metrics")  # fmt: skip
        regions = report.logging_status(store, names)
        if regions.empty:
            st.caption(
                "Not measured yet. *Refresh coverage* compares the logs with AWS's own "
                "per-model metrics (needs cloudwatch:GetMetricData and ListMetrics, and "
                "bedrock:GetModelInvocationLoggingConfiguration)."
            )
            return
        days = report.daily(store, start, end, names)
        overall = report.summary(store, start, end, names)
        if overall:
            st.metric(
                "Logs cover", f"{overall['coverage_pct']:.1f}%",
                help=f"{overall['logged_invocations']:,} of {overall['measured_invocations']:,} "
                f"measured invocations, last {COVERAGE_DAYS} days. " + report.DEFINITION,
                width=200,
            )  # fmt: skip
            if overall["missing_invocations"]:
                st.caption(
                    f"Missing from the logs: {overall['missing_invocations']:,} invocations, "
                    f"{money(overall['missing_cost'])} at our rates."
                )
        for row in regions.to_dict("records"):
            where = " and ".join(
                x for x in (row["log_group"] and f"log group {row['log_group']}",
                            row["bucket"] and f"bucket {row['bucket']}") if x
            )  # fmt: skip
            if row["logging_error"]:
                st.warning(md(f"{row['region']}: {row['logging_error']}"), icon=":material/lock:")
            elif row["logging_on"]:
                st.success(md(f"{row['region']}: logs to {where}"), icon=":material/check:")
            else:
                st.error(md(f"{row['region']}: logs nothing — {row['fix']}"),
                         icon=":material/visibility_off:")  # fmt: skip
            if row["metrics_error"]:
                st.warning(md(f"{row['region']}: {row['metrics_error']}"), icon=":material/lock:")
        wide = report.matrix(days)
        if not wide.empty:
            st.markdown("**Coverage per region and day** (% of measured invocations logged)")
            st.dataframe(table_for_screen(wide), hide_index=True, width="stretch")
        health = report.delivery(store, start, end, names)
        failed = health[health["failed"] > 0]
        if not failed.empty:
            st.error(
                md(f"Log delivery failed {failed['failed'].sum():,.0f} times ("
                   + ", ".join(f"{r.region} {r.day:%Y-%m-%d}: {r.value:,.0f} {r.metric}"
                               for r in failed.itertuples()) + ")"),
                icon=":material/error:",
            )  # fmt: skip
        st.caption(report.DEFINITION)


#: What one Cost Explorer read may spend at most, in requests ($0.01 each), from the page.
BILL_MAX_REQUESTS = 50


def bill_panel(store: Store, integ: Any, admin: bool) -> None:
    """The AWS bill of this integration's account: import CUR 2.0 files (a folder or an S3
    prefix) or read Cost Explorer (admins); the sources stored. The Explorer's *Estimate vs
    bill* section and billed basis use them."""
    from bedrock_explorer.bill import cost_explorer, cur_files, lines

    with st.expander("Bill: estimate vs the AWS bill", icon=":material/receipt_long:"):
        if admin:
            where = st.text_input(
                "CUR 2.0 export files",
                key=f"bill_path_{integ.id}",
                placeholder="/exports/bedrock-cur/data  or  s3://bucket/prefix",
                help="Parquet, CSV or CSV.gz files of an AWS Data Exports CUR 2.0 export, a "
                "folder holding them, or an s3:// prefix (read with this integration's "
                "credentials: s3:ListBucket and s3:GetObject). Re-importing replaces a changed "
                "file's lines and skips unchanged ones.",
            )
            if st.button("Import bill files", key=f"bill_import_{integ.id}",
                         icon=":material/upload_file:", disabled=not where.strip()):  # fmt: skip
                try:
                    with st.spinner("Reading the bill files…"):
                        got = _import_bill(store, integ, where.strip(), cur_files)
                except UserFacingError as err:
                    st.error(md(err), icon=":material/error:")
                else:
                    st.success(
                        f"{got.imported} files imported, {got.unchanged} unchanged: "
                        f"{got.lines:,} Bedrock bill lines, {money(got.unblended_cost)}",
                        icon=":material/check:",
                    )
                    for error in got.errors:
                        st.warning(md(error), icon=":material/warning:")
            if registry.reads_aws(integ.kind) and st.button(
                "Read Cost Explorer", key=f"bill_ce_{integ.id}", icon=":material/cloud_download:",
                help="Last month and this month, daily, per usage type and account "
                f"(ce:GetCostAndUsage, $0.01 per request, at most {BILL_MAX_REQUESTS} requests; "
                "days with a final bill are never asked again)",
            ):  # fmt: skip
                today = datetime.now(UTC).date()
                start = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
                try:
                    with st.spinner("Reading the Bedrock bill from Cost Explorer…"):
                        ce = cost_explorer.sync(
                            store, integ.name, integration_session(integ), start, today,
                            max_requests=BILL_MAX_REQUESTS,
                        )  # fmt: skip
                except UserFacingError as err:
                    st.error(md(err), icon=":material/error:")
                else:
                    st.success(
                        f"Cost Explorer: {ce.requests} requests (${ce.request_cost:.2f}), "
                        f"{ce.lines:,} lines, {money(ce.unblended_cost)}",
                        icon=":material/check:",
                    )
        found = lines.sources(store, (integ.name,))
        if found.empty:
            st.caption(
                "No bill yet. Import the CUR 2.0 export"
                + (" or read Cost Explorer" if registry.reads_aws(integ.kind) else "")
                + " to compare the estimate with what AWS charged (`bill import`, `bill sync`)."
            )
            return
        st.caption(
            f"{len(found)} bill sources: {int(found['lines'].sum()):,} Bedrock lines, "
            f"{money(float(found['unblended_cost'].sum()))} billed, UTC days "
            f"{found['first_day'].min():%Y-%m-%d} to {found['last_day'].max():%Y-%m-%d}. "
            "The Explorer compares "
            "them with the estimate (*Estimate vs bill*) and can show billed dollars."
        )
        shown = found.drop(columns=["integration"])
        st.dataframe(table_for_screen(shown), hide_index=True, width="stretch")


def _import_bill(store: Store, integ: Any, where: str, cur_files: Any) -> Any:
    if where.startswith("s3://"):
        if not registry.reads_aws(integ.kind):
            raise UserFacingError(
                f"{integ.name!r} reads local files, so it has no AWS credentials for {where}",
                "import it under an AWS integration, or download the files first",
            )
        return cur_files.import_s3(store, integ.name, where, integration_session(integ))
    errors: list[str] = []
    files = list(cur_files.local_files([where], errors))
    if not files and not errors:
        raise UserFacingError(
            f"No CUR data file under {where} (.parquet, .csv, .csv.gz)",
            "point at the export's data folder or its files",
        )
    return cur_files.import_files(store, integ.name, files, errors=errors)


def schedule_picker(store: Store, integ: Any) -> None:
    """The in-app schedule of one integration, with the next run (cron keeps working beside)."""
    labels = list(SCHEDULES)
    current = next((k for k, v in SCHEDULES.items() if v == integ.sync_every_minutes), labels[0])
    cols = st.columns([2, 3])
    picked = cols[0].selectbox(
        "Sync schedule",
        labels,
        index=labels.index(current),
        key=f"schedule_{integ.id}",
        help="Runs while the dashboard runs. Cron (`python -m bedrock_explorer sync`) works "
        "beside it: a sync already running is never started twice.",
    )
    if SCHEDULES[picked] != integ.sync_every_minutes:
        integ = store.set_schedule(integ.name, SCHEDULES[picked])
    when = next_run(integ, datetime.now(UTC))
    if when is not None:
        cols[1].caption(f"Next scheduled sync: {when:%Y-%m-%d %H:%M} UTC")


def edit_state(integ: Any) -> dict[str, Any]:
    """The wizard, opened at step 3 with an integration's saved settings."""
    settings = registry.settings_from_config(integ.kind, integ.config)
    state = {**BLANK, "step": 3, "kind": settings.kind, "name": integ.name, "saved": integ.name}
    for spec in settings.fields:
        value = getattr(settings, spec.name)
        if spec.repeatable:
            state["path" if spec.name == "paths" else spec.name] = value[0] if value else ""
        else:
            state[spec.name] = value or ""
    if isinstance(settings, RemoteSettings):
        state.update(
            region=settings.region or "us-east-1",
            auth_mode=settings.auth.mode,
            profile=settings.auth.profile or "",
            role_arn=settings.auth.role_arn or "",
            external_id=settings.auth.external_id or "",
            days=settings.first_sync_days,
        )
    return state


through_the_app()  # a bookmark opened first on a fresh server
st.title("Integrations")
with open_store() as store:
    sidebar(store)
    if "wizard" in st.session_state:
        admin_only("Adding or editing an integration")
        show_wizard(store)
    else:
        top = st.columns([3, 2, 5])
        if is_admin() and top[0].button(
            "Add Bedrock integration", type="primary", icon=":material/add:"
        ):
            wizard()
            st.rerun()
        if (
            is_admin()
            and any(i.is_demo for i in store.list_integrations())
            and top[1].button("Remove demo data", icon=":material/delete:")
        ):
            removed = demo.remove_demo(store)
            st.toast(f"Removed {removed:,} demo invocations")
            st.rerun()
        show_list(store)
        trail = store.audit_trail(limit=200)
        if not trail.empty:
            with st.expander("Audit trail: who changed what", icon=":material/history:"):
                st.caption(
                    "Syncs started, integrations added, edited and deleted, schedules, prices "
                    "and demo data — from this dashboard and the CLI (`audit` prints it all). "
                    "Times are UTC."
                )
                st.dataframe(trail, hide_index=True, width="stretch")
        quarantine = store.quarantine_summary()
        if not quarantine.empty:
            st.subheader("Quarantined lines")
            st.caption(
                "Malformed log lines, each with its reason and where it came from; never stored "
                "as data, never dropped silently. The line itself is not kept (it can hold prompt "
                "text)."
            )
            st.dataframe(quarantine, hide_index=True, width="stretch")
