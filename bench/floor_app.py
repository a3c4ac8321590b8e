"""The load benchmark's floor: a bare Streamlit app the browser walks exactly as it walks ours.

Same login form fields ("User name", "Password", "Log in"), the same "Signed in as" line in the
sidebar, and three pages by the same names (Portfolio, Failure modes, Readout), each a title and
the line the benchmark waits for: no store, no cookie, nothing computed. What a page view costs
here is what Streamlit and the browser cost on this machine before any work of ours.

With FLOOR_ELEMENTS=1 each page also draws the one kind of element that page of ours cannot do
without, at its smallest: a 5-row ``st.dataframe`` (Portfolio), a 5-bar plotly chart (Failure
modes), a 5-row ``st.table`` (Readout); placeholders stand still, as in our app. That is the least
the same walk can cost with the product's chosen packages.

`python bench/load.py --floor bare|elements` runs it beside the app, same N, same browser. Not a
product page: nothing imports it, and it accepts any password.
"""

from __future__ import annotations

import os

import streamlit as st

st.set_page_config(page_title="Floor", layout="wide")
ELEMENTS = os.environ.get("FLOOR_ELEMENTS") == "1"
if ELEMENTS:
    st.html("<style>[data-testid='stSkeleton'], [data-testid='stSkeleton'] * {animation: none !important;}</style>")


def _page(title: str, line: str, element: str):
    def draw() -> None:
        st.title(title)
        st.write(line)
        if not ELEMENTS:
            return
        import pandas as pd

        frame = pd.DataFrame({"count": [5, 4, 3, 2, 1], "name": list("vwxyz")})
        if element == "dataframe":
            st.dataframe(frame)
        elif element == "plotly":
            import plotly.express as px

            st.plotly_chart(px.bar(frame, x="name", y="count"))
        else:
            st.table(frame)

    return draw


if "user" not in st.session_state:
    with st.form("login"):
        user = st.text_input("User name")
        st.text_input("Password", type="password")
        if st.form_submit_button("Log in") and user:
            st.session_state["user"] = user
            st.rerun()
    st.stop()

st.sidebar.caption(f"Signed in as **{st.session_state['user']}**")
st.navigation([
    st.Page(_page("Portfolio", "Open a pilot", "dataframe"), title="Portfolio", url_path="portfolio", default=True),
    st.Page(_page("Failure modes", "Look closer", "plotly"), title="Failure modes", url_path="failure_modes"),
    st.Page(_page("Readout", "Conditions", "table"), title="Readout", url_path="readout"),
]).run()
