"""Readiness Review: the Streamlit entry point.

Run: streamlit run app.py   (the README's quick start does this on the bundled demo pilot)
"""

from __future__ import annotations

import streamlit as st

from readiness import demo, settings
from readiness.access import system_actor

st.set_page_config(page_title="Readiness Review", page_icon=":material/fact_check:", layout="wide")


@st.cache_resource(show_spinner="Preparing the demo pilot (first run only)...")
def _first_run() -> bool:
    """Once per server process: load the demo pilot into the default store when it is empty."""
    return demo.load_demo_if_empty(None, actor=system_actor("app:first-run"))


try:
    _first_run()
except Exception as err:  # the landing page says what is wrong instead of a traceback
    st.error(f"Could not prepare the store {settings.db_path()}: {err}")

page = st.navigation([st.Page("pages/pilots.py", title="Pilots", icon=":material/list:", default=True)])
page.run()
