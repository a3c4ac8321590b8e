"""The app shell, the only Streamlit in the library: login glue, navigation, query state,
caches, widgets, charts."""
