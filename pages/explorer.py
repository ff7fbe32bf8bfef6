"""Explorer: Bedrock cost by model, service type, time, identity and tag, filtered and exported.

Layout only: every figure comes from ``bedrock_explorer.explorer`` (the same functions as the CLI
``report``). The filters live in the URL (``st.query_params``), so a view can be bookmarked and
shared; the widgets are initialised from the URL once per session and write it back on each rerun.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal

import pandas as pd
import streamlit as st

from bedrock_explorer import charts, demo, explorer, export, periods, queries
from bedrock_explorer.bill import reconcile
from bedrock_explorer.config import resolve_db_path
from bedrock_explorer.dimensions import BY_FIELD
from bedrock_explorer.display import (
    chart_summary,
    chart_table,
    chart_text,
    grouped_for_screen,
    grouped_formats,
    md,
    money,
    money_cell,
    named_models,
    table_for_screen,
)
from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.explorer import Filters
from bedrock_explorer.ingest import Progress
from bedrock_explorer.pricing import book, catalog, price_list
from bedrock_explorer.pricing.units import Meter
from bedrock_explorer.store import Store
from pages._common import (
    compact,
    freshness_header,
    is_admin,
    open_store,
    shared_store,
    sidebar,
    through_the_app,
)

ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Paris",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Asia/Singapore",
    "Australia/Sydney",
)
CUSTOM = "custom"


def change(value: float | None) -> str | None:
    """The change figure; what it compares with goes beside it (the delta's description)."""
    return None if value is None else f"{value:+.1%}"


def today() -> date:
    """Today in the zone the view is shown in (its selectbox's value, before it is drawn)."""
    return explorer.today_in(str(st.session_state.get("ex_tz") or "UTC"), datetime.now(UTC))


#: What a chart can be stacked by and a table grouped by (metadata last), and the defaults a
#: link leaves out.
STACK_CHOICES = list(explorer.GROUP_BY)
DEFAULT_STACK, DEFAULT_TOP, DEFAULT_GROUP = "model", 8, ["model"]
LISTED = (*explorer.LIST_FILTERS, "meta", "group")
VIEW_PARAMS = (
    "period", "from", "to", "tz", "granularity", *LISTED, "stack", "key", "top", "split", "pivot",
    "page", "basis",
)  # fmt: skip
BASIS_LABELS = {explorer.BASIS_ESTIMATE: "Estimate", explorer.BASIS_BILLED: "Billed"}


def read_view() -> dict[str, Any]:
    """The view asked for: the link's; else, on a return from another page (which leaves the
    URL bare), the view this session showed last; else nothing (the defaults)."""
    url = {
        k: st.query_params.get_all(k) if k in LISTED else st.query_params.get(k)
        for k in st.query_params
        if k in VIEW_PARAMS
    }
    return url or dict(st.session_state.get("ex_view", {}))


def init_widgets(current: Filters, view: dict[str, Any], problems: list[str]) -> None:
    """Widget state from the view when the view says something the widgets did not write (a
    link, a bookmark) or when Streamlit has dropped the widgets' state (it does so for widgets
    a page did not draw: every return from another page, and the layout widgets after a run
    that stopped early for want of data). Otherwise the widgets keep theirs: a value set here
    over a widget the user just changed would swallow the change."""
    fresh = st.session_state.get("ex_written") != view or "ex_preset" not in st.session_state
    if fresh:
        _init_filters(current, view)
    state = st.session_state

    def missing(key: str) -> bool:
        return fresh or key not in state

    # the layout: each part checked on its own, like the filters
    if missing("ex_stack"):
        stack = str(view.get("stack") or DEFAULT_STACK)
        if stack not in STACK_CHOICES:
            problems.append(f"stack: {stack[:30]!r} is not one of {', '.join(STACK_CHOICES)}")
            stack = DEFAULT_STACK
        state["ex_stack"] = stack
    if missing("ex_top"):
        top = str(view.get("top") or DEFAULT_TOP)
        if not top.isdigit() or not 3 <= int(top) <= 20:
            problems.append(f"top: {top[:10]!r} is not a whole number from 3 to 20")
            top = str(DEFAULT_TOP)
        state["ex_top"] = int(top)
    if missing("ex_group"):
        groups = [g for g in view.get("group") or DEFAULT_GROUP if g != "-"]
        bad = [g for g in groups if g not in STACK_CHOICES]
        if bad:
            problems.append(f"group: {', '.join(repr(g[:30]) for g in bad)} not a dimension")
        state["ex_group"] = [g for g in groups if g in STACK_CHOICES]
    if missing("ex_group_time"):
        state["ex_group_time"] = view.get("split") == "1"
    if missing("ex_pivot"):
        state["ex_pivot"] = view.get("pivot") == "1"
    if missing("ex_page"):
        page = str(view.get("page") or "1")
        state["ex_page"] = int(page) if page.isdigit() and int(page) >= 1 else 1
    if missing("ex_meta_key"):
        if view.get("key"):
            state["ex_meta_key"] = str(view["key"])
        else:
            state.pop("ex_meta_key", None)


def _init_filters(current: Filters, view: dict[str, Any]) -> None:
    st.session_state["ex_tz"] = current.tz  # first: "today" is the zone's
    period = explorer.preset_in_link(view.get("period"))
    st.session_state["ex_preset"] = (
        period
        if period is not None
        else next(
            (
                p
                for p in explorer.PRESETS
                if "from" not in view
                and explorer.preset(p, today()) == (current.start, current.end)
            ),
            CUSTOM,
        )
    )
    st.session_state["ex_range"] = (current.start, current.end)
    st.session_state["ex_tz"] = current.tz
    st.session_state["ex_gran"] = current.granularity
    st.session_state["ex_basis"] = current.basis
    for name in explorer.LIST_FILTERS:
        st.session_state[f"ex_{name}"] = list(getattr(current, name))
    st.session_state["ex_meta"] = [f"{k}={v}" for k, v in current.metadata]


def view_params(filters: Filters, preset: str, keys: list[str]) -> dict[str, str | list[str]]:
    """The whole view as a link: the filters (a preset stays a preset), then the layout (only
    what differs from the defaults, so a plain view keeps a short link)."""
    params = filters.to_params(preset if preset != CUSTOM else None)
    state = st.session_state
    if state.get("ex_stack", DEFAULT_STACK) != DEFAULT_STACK:
        params["stack"] = str(state["ex_stack"])
    if state.get("ex_meta_key") and keys and state["ex_meta_key"] != keys[0]:
        params["key"] = str(state["ex_meta_key"])  # the first key is the default
    if int(state.get("ex_top", DEFAULT_TOP)) != DEFAULT_TOP:
        params["top"] = str(int(state["ex_top"]))
    group = list(state.get("ex_group", DEFAULT_GROUP))
    if group != DEFAULT_GROUP:
        params["group"] = group or ["-"]
    if state.get("ex_group_time"):
        params["split"] = "1"
    if state.get("ex_pivot"):
        params["pivot"] = "1"
    if int(state.get("ex_page", 1)) != 1:
        params["page"] = str(int(state["ex_page"]))
    return params


def active_filters() -> list[tuple[str, str]]:
    """The filter values set now, as (widget key, value): every list filter, then metadata."""
    keys = [f"ex_{name}" for name in explorer.LIST_FILTERS] + ["ex_meta"]
    return [(key, str(value)) for key in keys for value in st.session_state.get(key) or []]


def _remove_filter(key: str, value: str) -> None:
    # a callback: it runs before the next rerun draws the widget, so its state may change
    st.session_state[key] = [v for v in st.session_state.get(key) or [] if str(v) != value]
    st.session_state["ex_page"] = 1


def _clear_filters() -> None:
    for key, _value in active_filters():
        st.session_state[key] = []
    st.session_state["ex_page"] = 1


def filter_chips(active: list[tuple[str, str]]) -> None:
    """Every active filter as a chip that removes it, and *Clear all*: a shared link's filters
    are seen at once, not hidden in the collapsed expander."""
    if not active:
        return
    row = st.container(horizontal=True, gap="small")
    for i, (key, value) in enumerate(active):
        name = key.removeprefix("ex_")
        label = "requestMetadata" if name == "meta" else BY_FIELD[name].label
        row.button(
            md(f"{label}: {value}"),
            key=f"chip_{i}",
            icon=":material/close:",
            help="Remove this filter",
            on_click=_remove_filter,
            args=(key, value),
        )
    row.button(
        "Clear all", key="chip_clear", type="tertiary", on_click=_clear_filters,
        help=f"Remove all {len(active)} filters",
    )  # fmt: skip


def filter_bar(store: Store, default: Filters, memo: dict[Any, Any]) -> tuple[Filters, list[str]]:
    """The filter widgets; returns the filters they describe (also put in the URL) and the
    requestMetadata keys of the selection, the one covering the most spend first (the
    default key; ``memo`` keeps the cost per metadata set that ranked them for the charts)."""
    options = explorer.filter_options(store, st.session_state.setdefault("_ex_options", {}))
    c1, c2, c3, c4, c5 = st.columns([2, 3, 2, 2, 2])
    preset = c1.selectbox(
        "Period",
        [*explorer.PRESETS, CUSTOM],
        key="ex_preset",
        help="Days in the chosen time zone. "
        + "; ".join(f"{k}: {v}" for k, v in periods.MEANINGS.items()),
    )
    if preset != CUSTOM:
        st.session_state["ex_range"] = explorer.preset(preset, today())
    picked = c2.date_input("From – to", key="ex_range", disabled=preset != CUSTOM)
    start, end = (
        (picked[0], picked[-1])
        if isinstance(picked, (list, tuple)) and picked
        else (default.start, default.end)
    )
    gran = c3.radio("Granularity", explorer.GRANULARITIES, horizontal=True, key="ex_gran")
    zones = list(dict.fromkeys([st.session_state.get("ex_tz", "UTC"), *ZONES]))
    tz = c4.selectbox("Time zone", zones, key="ex_tz")
    basis = c5.radio(
        "Cost basis",
        explorer.BASES,
        format_func=BASIS_LABELS.__getitem__,
        horizontal=True,
        key="ex_basis",
        help="Estimate: on-demand list prices (or your overrides) over the logged calls. "
        "Billed: the imported AWS bill's dollars, net of discounts, split over the logged calls "
        "of each day, account, region, model, meter and tier in proportion to their estimate — "
        "so callers and tags show what AWS charged.",
    )
    chosen: dict[str, Any] = {}
    active = active_filters()
    filter_chips(active)
    title = f"Filters · {len(active)} active" if active else "Filters"
    # keyed: the title counts the filters, and a new title must not close it mid-choice
    with st.expander(title, icon=":material/filter_alt:", expanded=False, key="ex_filters_box"):
        cols = st.columns(3)
        for i, name in enumerate(explorer.LIST_FILTERS):
            values = sorted(set(options[name]) | set(st.session_state.get(f"ex_{name}", [])))
            label = BY_FIELD[name].label
            chosen[name] = tuple(cols[i % 3].multiselect(label, values, key=f"ex_{name}"))
        base = Filters(start, end, tz=tz, granularity=gran, **chosen)
        keys, pairs = explorer.metadata_summary(store, base)
        pairs = sorted(set(pairs) | set(st.session_state.get("ex_meta", [])))
        meta = cols[len(explorer.LIST_FILTERS) % 3].multiselect(
            "requestMetadata key = value", pairs, key="ex_meta"
        )
    filters = Filters(
        start,
        end,
        tz=tz,
        granularity=gran,
        metadata=tuple(tuple(m.split("=", 1)) for m in meta),  # type: ignore[misc]
        basis=basis,
        **chosen,
    )
    keys = explorer.keys_by_spend(store, filters, keys, memo)  # the default: the most spend
    params = view_params(filters, preset, keys)
    st.query_params.from_dict(params)
    # kept beside the widgets: Streamlit drops widget state on other pages, not this
    st.session_state["ex_written"] = st.session_state["ex_view"] = params
    return filters, keys


def named(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    """Models by their names (the raw id kept for hover and tables); other dimensions as they
    are. Labels made safe for a chart either way."""
    if by == "model":
        frame = named_models(frame, by, catalog.display_name)
    return frame.assign(**{by: frame[by].map(chart_text)})


def stacked_chart(frame: pd.DataFrame, by: str, f: Filters) -> None:
    shown = named(frame, by)
    fig = charts.stacked_figure(shown, by, f.granularity, f.tz)
    title = f"Cost over time by {by}, per {f.granularity} ({f.tz})"
    st.plotly_chart(fig, width="stretch", alt=chart_summary(shown, by, title))
    view_as_table(shown, ["bucket", by, "cost", "invocations", "unpriced_tokens"], title)


def bar(frame: pd.DataFrame, by: str, title: str, n: int) -> None:
    """Cost by one dimension: its top ``n`` (the chart's top-N setting), "Other" grey at the
    bottom."""
    if frame.empty:
        st.caption(f"{title}: nothing in this selection.")
        return
    top = named(explorer.top_n(frame, by, n), by)
    fig = charts.bar_figure(top, by, chart_text(title))
    st.plotly_chart(fig, width="stretch", alt=chart_summary(top, by, title))
    view_as_table(top.sort_values("cost", ascending=False), [by, "cost", "invocations"], title)


def view_as_table(frame: pd.DataFrame, columns: list[str], title: str) -> None:
    """The chart's figures as a table, one click away (for reading exact values, and for
    anyone who cannot read the chart)."""
    with st.expander("View as table", icon=":material/table:"):
        table = chart_table(frame, columns)
        st.dataframe(
            table.style.format({"Cost": money_cell}, na_rep=""),
            hide_index=True,
            width="stretch",
            alt=f"{title}, as a table",
        )


def detail_download(filters: Filters) -> Any:
    """The detail CSV, generated when the button is clicked: written to a temporary file a batch
    of rows at a time (never the whole selection as a DataFrame), then handed to Streamlit, which
    reads the finished file to serve it."""

    shared = shared_store(str(resolve_db_path()))

    def build() -> Any:
        with (
            tempfile.NamedTemporaryFile("wb", suffix=".csv", delete=False) as out,
            shared.session() as store,
        ):
            for text, _ in export.detail_csv_chunks(store, filters):
                out.write(text.encode("utf-8"))
        handle = open(out.name, "rb")  # noqa: SIM115 - Streamlit reads and closes it
        os.unlink(out.name)  # the open handle keeps the content until then
        return handle

    return build


def first_start(store: Store) -> None:
    """On the very first start, load clearly labelled demo data (once; a removal is kept).

    Only for an admin: loading data is a change a viewer may not make, even by opening a page."""
    if not is_admin() or not demo.should_autoload(store):
        return
    with st.status("First start: loading 90 days of demo data…", expanded=True) as status:
        progress = st.progress(0.0, text="Generating demo invocation logs")
        steps = {"n": 0}

        def show(event: Progress) -> None:
            steps["n"] += 1
            progress.progress(min(1.0, steps["n"] / 30), text=event.message)

        summary = demo.load_demo(store, progress=show)
        status.update(
            label=f"Demo data loaded: {summary.inserted:,} invocations",
            state="complete",
            expanded=False,
        )


def prices_section(store: Store) -> None:
    """The price tables read all stored data, whatever the filters: they run only while the
    panel is open (a filter change with it closed asks nothing of them)."""
    panel = st.expander(
        "Prices used, unpriced models and models seen", icon=":material/sell:",
        key="ex_prices_box", on_change="rerun",
    )  # fmt: skip
    with panel:
        if not panel.open:
            st.caption("Opening this panel reads the price tables.")
            return
        unpriced = queries.unpriced_models(store)
        if not unpriced.empty:
            st.markdown("**Unpriced models** — usage with no known price, never counted as $0")
            st.dataframe(table_for_screen(unpriced), hide_index=True, width="stretch")
        st.markdown("**Prices used** — per 1M tokens (images: per image), with their source")
        prices = table_for_screen(queries.price_list(store))
        st.dataframe(prices, hide_index=True, width="stretch")
        st.markdown("**Models seen** — the raw model id as logged, base model and routing derived")
        models = table_for_screen(queries.usage_by_model(store))
        st.dataframe(models, hide_index=True, width="stretch")
        if is_admin():
            set_price_form(store, unpriced)
            price_list_refresh(store)


#: The form's meters: (label, meter, what one unit is).
PRICE_FIELDS = (
    ("Input", Meter.INPUT, "per 1M tokens"),
    ("Output", Meter.OUTPUT, "per 1M tokens"),
    ("Cache read", Meter.CACHE_READ, "per 1M tokens"),
    ("Cache write (5 min)", Meter.CACHE_WRITE, "per 1M tokens"),
    ("Cache write (1 hour)", Meter.CACHE_WRITE_1H, "per 1M tokens"),
    ("Image", Meter.IMAGE, "per image"),
)


def pivot_section(
    store: Store, f: Filters, group_by: list[str], meta_key: str | None, memo: dict[Any, Any]
) -> None:
    """Cost with the time buckets as columns (Cost Explorer's table), a total and a trend line
    per row, and its CSV."""
    frame = explorer.grouped(store, f, group_by, meta_key=meta_key, time_bucket=True, memo=memo)
    wide = export.pivot_table(frame, group_by, f.granularity)
    columns = list(wide.columns)
    buckets = columns[columns.index(export.TOTAL_COLUMN) + 1 :]
    screen = wide.copy()
    screen["trend"] = pd.Series(wide[buckets].fillna(0.0).values.tolist(), index=wide.index)
    screen = screen[[*wide.columns[: len(group_by) or 1], "trend", export.TOTAL_COLUMN, *buckets]]
    screen = screen.rename(columns={d: d.capitalize() for d in [*group_by, "selection"]})
    st.dataframe(
        screen.style.format({c: money_cell for c in [export.TOTAL_COLUMN, *buckets]}, na_rep=""),
        hide_index=True,
        width="stretch",
        column_config={
            "trend": st.column_config.LineChartColumn("Trend", width="small"),
            export.TOTAL_COLUMN: "Total (USD)",
        },
        alt=f"Cost per {f.granularity} as columns, by {', '.join(group_by) or 'selection'}",
    )
    st.caption(
        f"{len(wide):,} rows · total {money(explorer.total_cost(wide[export.TOTAL_COLUMN]))} · "
        "empty: usage with no price (not $0)"
    )
    st.download_button(
        "Download pivot CSV",
        export.pivot_csv(frame, group_by, f.granularity),
        file_name=export.file_name("cost-pivot", f, [f.granularity, *group_by]),
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
    )


def set_price_form(store: Store, unpriced: pd.DataFrame) -> None:
    """Your own price for a model from a date on — the same override as ``prices set``, so an
    analyst fixes an unpriced model here instead of in a terminal. History before keeps its
    price; everything after is re-priced at once."""
    st.markdown(
        "**Set a price** — your own rate (a model without a public price, a negotiated "
        "discount), from a date on; the same as `prices set`, recorded in the audit trail"
    )
    known = [m for m in dict.fromkeys(unpriced["base_model"].fillna("")) if m] or []
    with st.form("set_price", border=True):
        top = st.columns([3, 2, 2, 2])
        model = top[0].selectbox(
            "Model (base id)", known, index=0 if known else None, key="sp_model",
            accept_new_options=True, placeholder="e.g. amazon.nova-pro-v1:0",
        )  # fmt: skip
        since = top[1].date_input("From (UTC)", value=today(), key="sp_from")
        region = top[2].text_input(
            "Region", value="*", key="sp_region", help="a region, a geography (eu) or * for all"
        )
        tier = top[3].selectbox("Tier", book.PRICED_TIERS, key="sp_tier")
        cols = st.columns(len(PRICE_FIELDS))
        given: dict[Meter, Decimal] = {}
        for col, (label, meter, unit) in zip(cols, PRICE_FIELDS, strict=True):
            value = col.number_input(
                f"{label} (USD {unit})", min_value=0.0, max_value=100_000.0, value=None,
                step=0.01, format="%.6f", key=f"sp_{meter.value}",
            )  # fmt: skip
            if value is not None:
                given[meter] = Decimal(str(value))
        note = st.text_input("Note (why)", key="sp_note")
        if not st.form_submit_button("Set price", icon=":material/price_change:"):
            return
    try:
        if not model:
            raise UserFacingError("No model given", "choose or type the base model id")
        if not given:
            raise UserFacingError("No price given", "type at least one rate")
        book.set_override(
            store, str(model).strip(), given, effective_from=since, tier=tier,
            region=region.strip() or "*", note=note.strip() or None,
        )  # fmt: skip
    except UserFacingError as err:
        st.error(md(err), icon=":material/error:")
        return
    st.session_state["sp_done"] = f"Price set for {model} from {since}: history re-priced."
    st.rerun()  # the figures above were drawn with the old price


def price_list_refresh(store: Store) -> None:
    """Read current on-demand prices from the AWS Price List API (credentials: default chain)."""
    st.markdown(
        "**AWS Price List** — read today's on-demand prices from AWS (needs "
        "`pricing:GetProducts`; uses the default AWS credentials of this machine)."
    )
    left, middle, right = st.columns([1, 1, 1], vertical_alignment="bottom")
    every = middle.checkbox(
        "Every region the logs name",
        key="pl_all_regions",
        help="Reads each source region's Price List (and us-east-1's), one after the other.",
    )
    region = left.text_input(
        "Region", value=price_list.DEFAULT_REGION, key="pl_region", disabled=every
    )
    if not right.button("Refresh prices from AWS", icon=":material/sync:", key="pl_refresh"):
        return
    regions = price_list.regions_in_data(store) if every else [region.strip() or "us-east-1"]
    try:
        with st.spinner(f"Reading the AWS Price List ({', '.join(regions)})…"):
            reports = price_list.refresh_regions_from_aws(store, regions)
    except UserFacingError as err:
        st.error(md(err), icon=":material/error:")
        return
    for report in reports:
        st.success(
            f"{report.region}: {report.products:,} products read, {report.stored:,} rates "
            f"stored, {report.unchanged:,} unchanged, for {len(report.models):,} models. "
            "History is re-priced at once.",
            icon=":material/check_circle:",
        )
        if report.unmatched:
            st.warning(
                f"{report.region}: not tied to a model id (their rates are not used): "
                + ", ".join(sorted(report.unmatched))
                + '. Tie one with `python -m bedrock_explorer prices map "NAME" MODEL_ID`.',
                icon=":material/link_off:",
            )
        for line in report.held_back:
            st.warning(f"Held back: {line}", icon=":material/pan_tool:")


#: A headline tile's width (px): tiles of a fixed width wrap on a narrow screen instead of
#: shrinking until "$17,204.55" reads "$17…".
TILE = 200


def coverage_badge(store: Store, f: Filters) -> None:
    """How much of what AWS measured the logs hold, for the selected integrations and the
    period's UTC days (shown once coverage has been read on the Integrations page or by
    ``coverage``): the figures above are only as complete as the logs."""
    from bedrock_explorer.coverage import report

    got = report.summary(store, f.start, f.end, tuple(f.integrations))
    if got is None:
        return
    pct = got["coverage_pct"]
    colour: Literal["green", "orange", "red"] = (
        "green" if pct >= 99 else "orange" if pct >= 90 else "red"
    )
    st.badge(
        f"Logs cover {pct:.1f}% of measured invocations", icon=":material/radar:", color=colour,
        help=f"{got['logged_invocations']:,} of {got['measured_invocations']:,}. "
        + report.DEFINITION,
    )  # fmt: skip
    gaps = []
    if got["missing_invocations"]:
        gaps.append(
            f"{got['missing_invocations']:,} measured invocations are not in the logs "
            f"({money(got['missing_cost'])} at our rates, not in the figures)"
        )
    if got["regions_without_logging"]:
        gaps.append("no logging in " + ", ".join(got["regions_without_logging"]))
    if got["delivery_failures"]:
        gaps.append(f"{got['delivery_failures']:,} failed log deliveries")
    if gaps:
        text = "; ".join(gaps)
        st.caption(md(text[:1].upper() + text[1:] + ". See *Coverage* on the Integrations page "
                      f"(UTC days {f.start} to {f.end}, all models)."))  # fmt: skip


@dataclass(frozen=True)
class BillView:
    """The reconciliation of the view's UTC days, computed once per rerun for the badge and the
    *Estimate vs bill* section (at 10M rows its buckets are a grouped query over the window)."""

    window: reconcile.Window
    tolerance: float
    finest: pd.DataFrame
    summary: dict[str, Any]


def bill_view(store: Store, f: Filters) -> BillView | None:
    """The reconciliation at the section's tolerance; ``None`` when no bill covers the days."""
    window = explorer.bill_window(f)
    if not reconcile.covered_days(store, window):
        return None
    tolerance = float(st.session_state.get("ex_bill_tol", 2.0)) / 100
    finest = reconcile.buckets(store, window, tolerance=tolerance)
    got = reconcile.summary(store, window, tolerance=tolerance, finest=finest)
    assert got is not None  # (a bill covers the window)
    return BillView(window, tolerance, finest, got)


def bill_badge(bill: BillView | None) -> None:
    """Whether the estimate matches the imported bill for the period's UTC days."""
    if bill is None:
        return
    got = bill.summary
    bad = got["mismatches"] + got["statuses"][reconcile.STATUS_UNMATCHED]
    pct = got["closed_variance_pct"]
    text = (
        f"Estimate within {abs(pct):.1f}% of the bill"
        if pct is not None and not bad
        else f"Bill: {got['mismatches']} mismatched, "
        f"{got['statuses'][reconcile.STATUS_UNMATCHED]} unmatched buckets"
    )
    st.badge(
        text,
        icon=":material/receipt_long:",
        color="green" if not bad else "orange",
        help=f"Over {got['days_compared']} UTC days the imported bill covers "
        f"({got['first_day']} to {got['last_day']}): estimate "
        f"{money(got['estimated_cost'])}, billed {money(got['billed_cost'])}. "
        "See *Estimate vs bill* below.",
    )


def bill_section(store: Store, bill: BillView | None) -> None:
    """Estimate vs bill per day and per model, with variances and each row's status."""
    st.subheader("Estimate vs bill")
    if bill is None:
        st.caption(
            "No AWS bill covers this period. Import the CUR 2.0 export or read Cost Explorer "
            "on the Integrations page (or `bill import` / `bill sync`) to compare the estimate "
            "with what AWS charged."
        )
        return
    window, tolerance, finest, got = bill.window, bill.tolerance, bill.finest, bill.summary
    tiles = st.container(horizontal=True, wrap=True, gap="medium")
    tiles.metric("Estimate", money(got["estimated_cost"]), width=TILE)
    tiles.metric("Billed", money(got["billed_cost"]), help="Unblended cost", width=TILE)
    tiles.metric(
        "Billed, net", money(got["net_billed_cost"]),
        help="After discounts and credits: what the invoice says", width=TILE,
    )  # fmt: skip
    tiles.metric("Variance", money(got["variance"]), help="Billed minus estimate", width=TILE)
    notes = [f"{got['days_compared']} UTC days compared ({got['first_day']} to {got['last_day']})"]
    if got["days_not_in_bill"]:
        notes.append(f"{got['days_not_in_bill']} days of the period have no bill yet")
    if got["unmatched_cost"]:
        notes.append(f"{money(got['unmatched_cost'])} of bill lines whose usage type is unknown")
    if got["billed_not_logged_cost"]:
        notes.append(f"{money(got['billed_not_logged_cost'])} billed but not in the logs")
    st.caption(
        "; ".join(notes) + ". The last two days are pending: AWS may still revise them. A row's "
        "status is its worst bucket's (UTC day × account × region × model × meter × tier): "
        "`reconcile` prints every bucket."
    )
    st.number_input(
        "Tolerance (%)", 0.0, 50.0, 2.0, 0.5, key="ex_bill_tol", width=200,
        help="A bucket whose bill is within this share of the estimate is reconciled",
    )  # fmt: skip
    columns = {
        "status": "Status",
        "estimated_cost": "Estimate (USD)",
        "billed_cost": "Billed (USD)",
        "net_billed_cost": "Billed, net (USD)",
        "variance": "Variance (USD)",
        "variance_pct": "Variance %",
        "quantity_variance": "of which quantity",
        "rate_variance": "of which rate",
    }
    for by, title in (("day", "Per day"), ("model", "Per model")):
        frame = reconcile.grouped(store, window, [by], tolerance=tolerance, finest=finest)
        if by == "model":
            frame["model"] = frame["model"].map(lambda m: catalog.display_name(str(m)) or m)
        shown = frame[[by, *columns]].rename(columns={by: by.capitalize(), **columns})
        st.markdown(f"**{title}**")
        st.dataframe(
            shown.style.format(
                {c: money_cell for c in columns.values() if "USD" in c or "of which" in c}
                | {"Variance %": "{:+.2f}%"}
            ),
            hide_index=True,
            width="stretch",
        )
    buckets = reconcile.grouped(
        store, window, list(reconcile.GROUPINGS), tolerance=tolerance, finest=finest
    )
    st.download_button(
        "Download the buckets (CSV)",
        export.neutralise(buckets).to_csv(index=False),
        file_name=f"estimate-vs-bill-{window.start:%Y%m%d}-{window.end:%Y%m%d}.csv",
        mime="text/csv",
        icon=":material/download:",
    )


def show_headline(head: dict[str, Any], basis: str = explorer.BASIS_ESTIMATE) -> None:
    row = st.container(horizontal=True, wrap=True, gap="medium")
    compared = None if head["comparison_note"] else head["comparison_short"]
    billed = basis == explorer.BASIS_BILLED
    row.metric(
        "Billed cost" if billed else "Total cost",
        money(head["cost"] if head["cost_known"] else None),
        change(head["cost_change"]),
        delta_color="inverse",
        delta_description=compared if head["cost_change"] is not None else None,
        help=(
            head["comparison_note"]
            or f"Compared {head['comparison']}: {money(head['previous_cost'])}."
        )
        + (
            " The imported AWS bill's dollars (net), allocated to the logged calls."
            if billed
            else " On-demand list prices (or your overrides), per invocation and meter."
        ),
        width=TILE,
    )
    row.metric(
        "Invocations",
        f"{head['invocations']:,.0f}",
        change(head["invocations_change"]),
        delta_color="off",
        delta_description=compared if head["invocations_change"] is not None else None,
        help=head["comparison_note"] or f"Compared {head['comparison']}.",
        width=TILE,
    )
    row.metric(
        "Cost per 1,000 calls",  # "priced invocations" in full did not fit a 200 px tile
        money(head["cost_per_1k"]),
        help=f"Per 1,000 of the {head['priced_invocations']:,.0f} invocations that have a "
        "per-token price: unpriced, provisioned and reserved ones add no dollars, so they are "
        "left out.",
        width=TILE,
    )
    row.metric("Images generated", f"{head['images']:,.0f}", width=TILE)
    tokens = st.container(horizontal=True, wrap=True, gap="medium")
    for label, key in (
        ("Input tokens", "input_tokens"),
        ("Output tokens", "output_tokens"),
        ("Cache read tokens", "cache_read_tokens"),
        ("Cache write tokens", "cache_write_tokens"),
    ):
        tokens.metric(label, compact(head[key]), help=f"{head[key]:,.0f}", width=TILE)
    if billed:
        status = head["price_status"]
        if status == queries.STATUS_NOT_BILLED:
            st.warning(
                "**No bill covers this period yet**, so there are no billed dollars to show. "
                "Import the CUR 2.0 export or read Cost Explorer on the Integrations page, or "
                "switch the cost basis back to Estimate.",
                icon=":material/receipt_long:",
            )
        elif status == queries.STATUS_PARTLY_BILLED:
            st.info(
                f"{head['unbilled_invocations']:,.0f} invocations fall on days no imported bill "
                "covers: they count $0 on the billed basis until that bill is imported.",
                icon=":material/receipt_long:",
            )
        return
    if head["unpriced_tokens"] or head["unpriced_images"]:
        st.warning(
            f"**Part of this selection is unpriced:** {head['unpriced_tokens']:,.0f} tokens"
            + (f" and {head['unpriced_images']:,.0f} images" if head["unpriced_images"] else "")
            + " have no known price and are **not** in the total above. "
            + (
                "Set a price under *Prices used, unpriced models* below (or `prices set`)."
                if is_admin()
                else "An admin can set a price for them."
            ),
            icon=":material/price_change:",
        )
    if head["provisioned_invocations"] or head["reserved_invocations"]:
        st.info(
            f"{head['provisioned_invocations'] + head['reserved_invocations']:,.0f} invocations "
            "ran on provisioned throughput or the reserved tier: billed per hour or per reserved "
            "capacity, not per token, so not in the total."
        )
    if head["unpriced_invocations"] and not head["unpriced_tokens"]:
        st.warning(
            f"**{head['unpriced_invocations']:,.0f} invocations have no price** (video, rerank, "
            "speech or a model without a public price) and are **not** in the total. See "
            "`python -m bedrock_explorer prices unpriced`.",
            icon=":material/price_change:",
        )
    if head["estimated_invocations"]:
        st.info(
            f"{head['estimated_invocations']:,.0f} invocations ran on a service tier (flex, "
            "priority or latency-optimized) with no known rate of its own: **estimated at the "
            "standard rate**.",
            icon=":material/rule:",
        )


through_the_app()  # a bookmark opened first on a fresh server
st.title("Explorer")
with open_store() as store:
    first_start(store)
    sidebar(store)
    default = explorer.default_filters()
    view = read_view()
    link_problems: list[str] = []
    current = Filters.from_params(view, default, link_problems)
    init_widgets(current, view, link_problems)
    for problem in link_problems:
        st.warning(
            f"Part of this link was ignored, the rest is shown: {md(problem)}",
            icon=":material/link_off:",
        )
    memo: dict = {}  # one per rerun: a question asked twice is answered once
    f, keys = filter_bar(store, default, memo)
    freshness_header(store, f.integrations)

    if not store.list_integrations():
        st.info(
            "**No data yet.** An *integration* is one place your Bedrock model invocation logs "
            "live: a CloudWatch Logs log group, an S3 delivery bucket, or files on disk. "
            + (
                "Add one on the Integrations page, or explore first with the demo data."
                if is_admin()
                else "An admin of this dashboard adds them; their spend appears here."
            ),
            icon=":material/info:",
        )
        if is_admin():
            st.page_link(
                "pages/integrations.py", label="Add an integration", icon=":material/cable:"
            )
        if is_admin() and st.button("Load demo data", type="primary", icon=":material/science:"):
            with st.spinner("Loading demo data…"):
                demo.load_demo(store)
            st.rerun()
        st.stop()

    total_rows = explorer.detail_count(store, f)
    if not total_rows:
        st.info(
            f"**No invocations between {f.start} and {f.end}** with these filters. Widen the "
            "period or clear a filter.",
            icon=":material/search_off:",
        )
        prices_section(store)  # prices do not depend on the selection
        st.stop()

    # The figures are recomputed below: a rerun longer than half a second says so above them
    # (Streamlit fades the old ones meanwhile), so a slow change never looks finished.
    with st.spinner("Updating the figures for this selection…", show_time=True):
        # The chart's finer frame is computed first so the headline can be rolled up from it.
        figures = st.container()
        st.subheader("Cost over time")
        s1, s2, s3 = st.columns([2, 2, 1])
        stack = s1.selectbox("Stacked by", STACK_CHOICES, key="ex_stack")
        if st.session_state.get("ex_meta_key") not in keys:  # a key from a link, not in this period
            st.session_state.pop("ex_meta_key", None)
        meta_key = s2.selectbox("requestMetadata key", keys, key="ex_meta_key") if keys else None
        n = s3.number_input("Top", 3, 20, key="ex_top", help="How many of each chart's largest are "
                            "shown; the rest is summed as Other (grey)")  # fmt: skip
        top = int(n)
        if stack == "metadata" and not meta_key:
            st.caption("No requestMetadata in this period.")
        else:
            stacked_chart(
                explorer.over_time(store, f, stack, n=int(n), meta_key=meta_key, memo=memo),
                stack,
                f,
            )
            if f.basis == explorer.BASIS_BILLED:
                st.caption(
                    "Billed dollars per time bucket are those the logged calls carry; billed "
                    "dollars no logged call carries are in the totals as "
                    f"“{explorer.BILLED_NOT_LOGGED}”, not in this chart."
                )
            if explorer.still_running(f):
                st.caption(
                    f"The last {f.granularity} is still running: its bar counts up to now "
                    f"({f.tz}), and the change above compares the same elapsed time."
                )

        preset = st.session_state.get("ex_preset")
        head = explorer.headline(store, f, memo, period=preset if preset != CUSTOM else None)
        with figures:
            show_headline(head, f.basis)
            coverage_badge(store, f)
            bill = bill_view(store, f)
            bill_badge(bill)

        c1, c2 = st.columns(2)
        with c1:
            bar(explorer.grouped(store, f, ["model"], memo=memo), "model", "Cost by model", top)
        with c2:
            bar(
                explorer.grouped(store, f, ["service type"], memo=memo),
                "service type",
                "Cost by service type",
                top,
            )
        c1, c2 = st.columns(2)
        with c1:
            bar(
                explorer.grouped(store, f, ["identity"], memo=memo),
                "identity",
                "Cost by identity",
                top,
            )
        with c2:
            if meta_key:
                by_meta = explorer.grouped(store, f, ["metadata"], meta_key=meta_key, memo=memo)
                bar(by_meta, "metadata", f"Cost by requestMetadata “{meta_key}”", top)
                untagged = by_meta[by_meta["metadata"] == "(none)"]
                total = explorer.total_cost(by_meta["cost"])
                if not untagged.empty and total:
                    cost = explorer.total_cost(untagged["cost"]) or 0.0
                    st.caption(
                        md(f"Untagged (no “{meta_key}”): {money(cost)}, {cost / total:.0%} of the "
                           f"cost, {int(untagged['invocations'].sum()):,} invocations")
                    )  # fmt: skip
            else:
                st.caption("No requestMetadata in this period.")
        c1, c2 = st.columns(2)
        with c1:
            meters = explorer.by_meter(head)
            fig = charts.usage_type_figure(meters)
            title = "Cost by usage type"
            st.plotly_chart(fig, width="stretch", alt=chart_summary(meters, "usage type", title))
            view_as_table(meters, ["usage type", "cost"], title)
        with c2:
            cache = explorer.cache_economics(store, f, memo)
            st.markdown("**Prompt cache economics**")
            # tiles of a fixed width that wrap (two columns of a half-width column clipped
            # "Saved by cache reads" at 800 px)
            k = st.container(horizontal=True, wrap=True, gap="medium")
            k.metric(
                "Saved by cache reads",
                money(cache["saved"]),
                help="Cache-read tokens at the input price, minus what they cost.",
                width=TILE,
            )
            k.metric(
                "Cache write premium",
                money(cache["write_premium"]),
                help="What cache writes cost above the input price.",
                width=TILE,
            )
            k.metric("Net effect of caching", money(cache["net"]), width=TILE)
            k.metric(
                "Writes never read back",
                money(cache["unread_write_cost"]),
                help="Write cost for a model on a day with no cache read at all: "
                f"{cache['unread_write_tokens']:,.0f} tokens.",
                width=TILE,
            )

    bill_section(store, bill)

    st.subheader("Grouped table")
    group_by = st.multiselect("Group by", STACK_CHOICES, key="ex_group")
    t1, t2 = st.columns(2)
    with_time = t1.toggle(f"Split by {f.granularity}", key="ex_group_time")
    as_columns = t2.toggle(
        f"{f.granularity.capitalize()}s as columns", key="ex_pivot",
        help="One column per time bucket and a total, with a trend line per row",
    )  # fmt: skip
    if "metadata" in group_by and not meta_key:
        st.caption("Grouping by metadata needs a requestMetadata key in this period.")
    elif as_columns:
        pivot_section(store, f, group_by, meta_key, memo)
    else:
        table_frame = explorer.grouped(
            store, f, group_by, meta_key=meta_key, time_bucket=with_time, memo=memo
        )
        table = export.grouped_table(table_frame, group_by)
        shown_dims = list(group_by)
        if "model" in table:  # the name beside the id
            names = table["model"].map(lambda m: catalog.display_name(str(m)) or "")
            table.insert(list(table.columns).index("model") + 1, "model name", names)
            shown_dims.insert(shown_dims.index("model") + 1, "model name")
        screen = grouped_for_screen(table, shown_dims)
        st.dataframe(
            screen.style.format(grouped_formats(screen), na_rep=""),
            hide_index=True,
            width="stretch",
        )
        st.caption(
            f"{len(table):,} rows · total {money(explorer.total_cost(table['cost_usd']))} · "
            f"{int(table['unpriced_tokens'].sum()):,} unpriced tokens"
        )
        st.download_button(
            "Download grouped CSV",
            export.grouped_csv(table_frame, group_by),
            file_name=export.file_name(
                "cost", f, ([f.granularity] if with_time else []) + group_by
            ),
            mime="text/csv",
            icon=":material/download:",
            # No rerun on click: a rerun re-issues the detail download below under a new id,
            # and a second download clicked at once then found its file gone.
            on_click="ignore",
        )

    st.subheader("Invocations")
    if f.basis == explorer.BASIS_BILLED:
        st.caption(
            "Each invocation's own cost is its estimate (list prices); the billed basis above "
            "splits the bill per day, account, region, model, meter and tier."
        )
    pages = max(1, -(-total_rows // 100))
    st.session_state["ex_page"] = min(int(st.session_state.get("ex_page", 1)), pages)
    page = st.number_input(
        f"Page (of {pages:,}; 100 per page, newest first)", 1, pages, key="ex_page"
    )
    st.dataframe(
        explorer.detail_page(store, f, page=int(page) - 1), hide_index=True, width="stretch"
    )
    st.download_button(
        f"Download all {total_rows:,} invocations (CSV)",
        detail_download(f),
        file_name=export.file_name("invocations", f),
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
    )
    st.caption("Metadata and token counts only: prompt and response text is never stored.")
    prices_section(store)
    if "sp_done" in st.session_state:
        st.toast(md(st.session_state.pop("sp_done")), icon=":material/check_circle:")
