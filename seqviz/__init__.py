"""seqviz engine: data, models, probes, training loop and figure builders.

Pure torch / numpy / plotly. Nothing here imports ipywidgets or IPython; the
dashboards in ``widgets/`` are built on top of this package.
"""

__version__ = "0.1.0"
