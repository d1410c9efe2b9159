"""Pure figure builders: data -> plotly.graph_objects.Figure, one shared theme."""
