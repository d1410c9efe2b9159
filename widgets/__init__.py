"""Dashboards: ``widgets.kit`` (the live kit every dashboard stands on) and one package per
dashboard (``gradient_flow``, ``batching``, ``receptive_field``, ``attention``), each with its
state, view and panels. No maths here: everything a dashboard shows comes from ``seqviz``.
docs/architecture.md says how to add one.
"""

import sys

# Kernel start-up: plotly.io (used by the plot panes) imports nbformat, which imports jsonschema,
# which imports the optional IRI checker ``rfc3987_syntax`` if it is installed (it is,
# for jupyter-events). That module builds a parser grammar at import time: 2-7 s of
# every dashboard's first render, measured with `python -X importtime`. Nothing in a
# dashboard validates IRIs, so the kernel skips it (jsonschema guards the import).
sys.modules.setdefault("rfc3987_syntax", None)
