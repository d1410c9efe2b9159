"""The server side of seqviz: Voila started with the project's settings (``serve``) and the
kernel fork server that gives every page a fresh kernel quickly (``kernel_fork``).

Neither imports the dashboards: ``widgets`` and ``seqviz`` run inside the kernels.
"""
