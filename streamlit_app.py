"""Bedrock Explorer dashboard: ``streamlit run streamlit_app.py``.

Only the sign-in gate, the navigation (by role) and the signed-in box live here; each page is a
thin file in ``pages/`` that calls ``bedrock_explorer``.
"""

from pathlib import Path

import streamlit as st

from bedrock_explorer.access import Role
from bedrock_explorer.config import private_files
from pages._common import sign_in_gate, signed_in_box

private_files()  # the database and its WAL are created readable by this user only
# The icon is a file of this repository, served by the dashboard itself: a Material icon name
# made every page load fetch the favicon from the internet (console errors when offline).
ICON = Path(__file__).resolve().parent / "assets" / "favicon.png"
st.set_page_config(page_title="Bedrock Explorer", page_icon=str(ICON), layout="wide")

# With sign-in configured (.streamlit/secrets.toml), nobody gets past this line unless let in.
who = sign_in_gate()
pages = [
    st.Page("pages/explorer.py", title="Explorer", icon=":material/query_stats:", default=True),
    st.Page("pages/integrations.py", title="Integrations", icon=":material/cable:"),
]
if who.role is Role.ADMIN:  # it reads roles from AWS with the host's credentials
    pages.append(
        st.Page("pages/iam_checker.py", title="IAM Policy Checker", icon=":material/policy:")
    )
navigation = st.navigation(pages)
signed_in_box(who)  # after the page list, which takes the top of the sidebar
navigation.run()
