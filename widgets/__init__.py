"""Dashboards: one file each, a traitlets State plus an ipywidgets view.

No maths here: everything a dashboard shows comes from ``seqviz``.
"""
