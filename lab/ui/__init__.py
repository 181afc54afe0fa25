"""The Gradio user interface: one module per tab. Only this sub-package imports gradio.

Each ``build_<name>_tab()`` creates its components inside the current ``gr.Tab`` and wires
handlers that call the headless ``lab`` functions and only format their results.
"""
