"""Overview: what is in the database, where it came from, and the demo data switch."""

import pandas as pd
import plotly.express as px
import streamlit as st

from bedrock_explorer import demo, queries
from bedrock_explorer.ingest import Progress
from bedrock_explorer.pricing import book
from pages._common import compact, open_store, sidebar

st.title("Bedrock Explorer")


def daily_bars(frame: pd.DataFrame, y: str, title: str, unit: str, **extra: object) -> None:
    """A per-day bar chart stacked by model, the way both daily charts look."""
    fig = px.bar(
        frame,
        x="day",
        y=y,
        color="model",
        title=title,
        labels={"day": "Day (UTC)", y: unit, "model": "Model"},
        **extra,
    )
    fig.update_layout(legend={"orientation": "h", "y": -0.25}, height=460)
    st.plotly_chart(fig, width="stretch")


with open_store() as store:
    if demo.should_autoload(store):
        with st.status("First start: loading 90 days of demo data…", expanded=True) as status:
            bar = st.progress(0.0, text="Generating demo invocation logs")
            steps = {"n": 0}

            def show(event: Progress) -> None:
                steps["n"] += 1
                bar.progress(min(1.0, steps["n"] / 30), text=event.message)

            summary = demo.load_demo(store, progress=show)
            status.update(
                label=f"Demo data loaded: {summary.inserted:,} invocations",
                state="complete",
                expanded=False,
            )

    book.ensure_compiled(store)
    totals = sidebar(store)
    costs = queries.cost_totals(store)
    integrations = store.list_integrations()

    if not integrations:
        st.info(
            "**No data yet.** An *integration* is one place your Bedrock model invocation logs "
            "live: a CloudWatch Logs log group, an S3 delivery bucket, or files on disk. "
            "Import files with `python -m bedrock_explorer import PATH --integration NAME`, "
            "or explore first with the demo data.",
            icon=":material/info:",
        )
        if st.button("Load demo data", type="primary", icon=":material/science:"):
            with st.spinner("Loading demo data…"):
                demo.load_demo(store)
            st.rerun()
        st.stop()

    cols = st.columns(3)
    cols[0].metric(
        "Cost (USD)",
        f"${costs['cost']:,.2f}",
        help="On-demand list prices (or your overrides), per invocation and meter.",
    )
    cols[1].metric("Invocations", f"{totals['invocations']:,}")
    cols[2].metric(
        "Quarantined lines",
        f"{totals['quarantined']:,}",
        help="Malformed log lines kept aside with their reason and location; "
        "never stored as data, never silently dropped.",
    )
    tokens = st.columns(4)
    for col, (label, key) in zip(
        tokens,
        (
            ("Input tokens", "input_tokens"),
            ("Output tokens", "output_tokens"),
            ("Cache read tokens", "cache_read_tokens"),
            ("Cache write tokens", "cache_write_tokens"),
        ),
        strict=True,
    ):
        col.metric(label, compact(totals[key]), help=f"{totals[key]:,}")
    unpriced = queries.unpriced_models(store)
    if costs["unpriced_tokens"] or costs["unpriced_images"]:
        models = ", ".join(f"`{m}`" for m in unpriced.model_id.head(3))
        more = f" and {len(unpriced) - 3} more" if len(unpriced) > 3 else ""
        st.warning(
            f"**Unpriced usage:** {costs['unpriced_tokens']:,} tokens"
            + (f" and {costs['unpriced_images']:,} images" if costs["unpriced_images"] else "")
            + f" have no known price and are not in the cost above ({models}{more}). "
            "See *Unpriced models* below, or set a price with "
            "`python -m bedrock_explorer prices set MODEL --input … --from DATE`.",
            icon=":material/price_change:",
        )
    if costs["provisioned_invocations"]:
        st.info(
            f"{costs['provisioned_invocations']:,} invocations ran on provisioned "
            "throughput: billed per hour, not per token, so not in the cost above."
        )
    if totals["first_ts"] is not None:
        st.caption(
            f"From {totals['first_ts']:%Y-%m-%d} to {totals['last_ts']:%Y-%m-%d %H:%M} UTC · "
            f"{totals['guardrail_blocks']:,} guardrail interventions · "
            f"{totals['errors']:,} failed invocations"
        )

    daily_cost = queries.daily_cost_by_model(store)
    if not daily_cost.empty:
        daily_bars(
            daily_cost,
            "cost",
            "Cost per day by model (USD)",
            "USD",
            hover_data={"invocations": True, "unpriced_tokens": True},
        )

    daily = queries.daily_tokens_by_model(store)
    if not daily.empty:
        daily["tokens"] = (
            daily["input_tokens"]
            + daily["output_tokens"]
            + daily["cache_read_tokens"]
            + daily["cache_write_tokens"]
        )
        daily_bars(daily, "tokens", "Tokens per day by model (all meters)", "Tokens")

    st.subheader("Integrations")
    st.dataframe(queries.integration_stats(store), hide_index=True, width="stretch")

    if not unpriced.empty:
        st.subheader("Unpriced models")
        st.caption(
            "Usage with no known price, with its tokens and the reason. Never counted as $0."
        )
        st.dataframe(unpriced, hide_index=True, width="stretch")

    st.subheader("Prices used")
    st.caption("Per 1M tokens (images: per image), with where each rate came from.")
    st.dataframe(queries.price_list(store), hide_index=True, width="stretch")

    st.subheader("Models seen")
    st.caption("The raw model id is kept as logged; base model and routing are derived from it.")
    st.dataframe(queries.usage_by_model(store), hide_index=True, width="stretch")

    quarantine = store.quarantine_summary()
    if not quarantine.empty:
        st.subheader("Quarantined lines")
        st.caption(
            "Each with its reason and where it came from; the line itself is not kept "
            "(it can hold prompt text)."
        )
        st.dataframe(quarantine, hide_index=True, width="stretch")

    if any(i.is_demo for i in integrations):
        st.divider()
        if st.button("Remove demo data", icon=":material/delete:"):
            removed = demo.remove_demo(store)
            st.toast(f"Removed {removed:,} demo invocations")
            st.rerun()
