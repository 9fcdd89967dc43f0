"""The Streamlit app's tabs, one module each (UI only: every reading, explanation and model comes from digitlib).

Imported only by ``streamlit_app.py``; the library itself never imports Streamlit.
"""
