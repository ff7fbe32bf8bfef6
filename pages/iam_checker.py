"""IAM Policy Checker: can the integration's role read the Bedrock logs, and the exact fix."""

import streamlit as st

from bedrock_explorer import aws
from bedrock_explorer.display import md
from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.iam import live
from bedrock_explorer.iam.checker import BucketTarget, LogGroupTarget, report
from bedrock_explorer.iam.evaluator import Policy, load_document
from pages._common import admin_only, open_store, show_iam_report, sidebar, through_the_app

through_the_app()  # a bookmark opened first on a fresh server
st.title("IAM Policy Checker")
st.caption(
    "Checks, before the first sync fails, that a role may read the Bedrock invocation logs. "
    "**No change is made to AWS**: you get the exact policy to paste."
)
with open_store() as store:
    sidebar(store)
# It reads roles from AWS with this machine's credentials: not for viewers, even by its URL.
admin_only("The IAM Policy Checker")

source = st.radio(
    "Where the logs are",
    ["CloudWatch Logs log group", "S3 bucket"],
    horizontal=True,
    key="iam_source",
)
if source == "CloudWatch Logs log group":
    group_arn = st.text_input(
        "Log group ARN",
        placeholder="arn:aws:logs:us-east-1:123456789012:log-group:/aws/bedrock/modelinvocations",
        key="iam_log_group_arn",
    )
else:
    col1, col2 = st.columns(2)
    bucket = col1.text_input("Bucket", key="iam_bucket")
    prefix = col2.text_input("Prefix", key="iam_prefix", placeholder="bedrock-logs/")

mode = st.radio(
    "Policies", ["Paste policy JSON", "Read a role from AWS"], horizontal=True, key="iam_mode"
)


def _target() -> LogGroupTarget | BucketTarget:
    if source == "CloudWatch Logs log group":
        return LogGroupTarget.from_arn(group_arn)
    if not bucket.strip():
        raise UserFacingError("No bucket given", "enter the S3 bucket Bedrock delivers logs to")
    return BucketTarget(bucket.strip(), prefix)


if mode == "Paste policy JSON":
    pasted = st.text_area(
        "Identity policy JSON (inline or managed)", height=220, key="iam_policy_text"
    )
    uploaded = st.file_uploader(
        "…or upload policy files", type=["json"], accept_multiple_files=True, key="iam_policy_files"
    )
    boundary_text = st.text_area(
        "Permissions boundary JSON (optional)", height=120, key="iam_boundary_text"
    )
    if st.button("Check", type="primary", key="iam_check_pasted"):
        try:
            policies = (
                [Policy("pasted policy", load_document(pasted), "pasted")] if pasted.strip() else []
            )
            policies += [
                Policy(f.name, load_document(f.getvalue().decode()), "pasted")
                for f in uploaded or []
            ]
            if not policies:
                raise UserFacingError("No policy given", "paste or upload the role's policy JSON")
            boundary = (
                Policy("boundary", load_document(boundary_text), "boundary")
                if boundary_text.strip()
                else None
            )
            show_iam_report(report(policies, _target(), boundary), None)
        except UserFacingError as err:
            st.error(md(err))
else:
    col1, col2 = st.columns(2)
    profile = col1.text_input("AWS profile (empty: default credentials)", key="iam_profile")
    search = col2.text_input(
        "Search roles by prefix", placeholder="Nops-Integration-", key="iam_role_prefix"
    )
    if search.strip() and st.button("Search roles", key="iam_search"):
        try:
            found = live.find_roles(aws.client(aws.session(profile), "iam"), search.strip())
            st.session_state["iam_found_roles"] = found
            if not found:
                st.info(f"No role name starts with “{search.strip()}”.")
        except UserFacingError as err:
            st.error(md(err))
    found_roles = st.session_state.get("iam_found_roles") or []
    if found_roles:
        role_name = st.selectbox("Role", found_roles, key="iam_role_pick")
    else:
        role_name = st.text_input("Role name or ARN", key="iam_role_name")
    if st.button("Check", type="primary", key="iam_check_role"):
        try:
            if not role_name:
                raise UserFacingError("No role given", "enter the role name, or search by prefix")
            checked = live.check_role(aws.session(profile), role_name, _target())
            role = checked.role
            names = ", ".join(f"{p.name} ({p.kind})" for p in role.policies) or "none"
            st.caption(
                f"Read {role.role_arn}: {names}"
                + (f"; permissions boundary {role.boundary.name}" if role.boundary else "")
            )
            show_iam_report(checked.report, checked.simulated)
        except UserFacingError as err:
            st.error(md(err))
