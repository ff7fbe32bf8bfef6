"""Bedrock Explorer dashboard: ``streamlit run streamlit_app.py``.

Only navigation and the shared sidebar live here; each page is a thin file in ``pages/`` that calls
``bedrock_explorer``.
"""

import streamlit as st

from bedrock_explorer.config import private_files

private_files()  # the database and its WAL are created readable by this user only
st.set_page_config(page_title="Bedrock Explorer", page_icon=":material/savings:", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/explorer.py", title="Explorer", icon=":material/query_stats:", default=True),
        st.Page("pages/integrations.py", title="Integrations", icon=":material/cable:"),
        st.Page("pages/iam_checker.py", title="IAM Policy Checker", icon=":material/policy:"),
    ]
)
navigation.run()
