"""Voila's settings inside each user's server, for images and TLJH (deploy/README.md): the same
settings `make dashboard` uses (seqviz_server/serve.py) and deploy/jupyterhub_config.py passes as
arguments. Copy to /etc/jupyter/ (image) or {TLJH user env}/etc/jupyter/ (TLJH)."""

c = get_config()  # noqa: F821
c.VoilaConfiguration.template = "seqviz"
c.VoilaConfiguration.classic_tree = True
c.VoilaConfiguration.theme = "light"
c.VoilaConfiguration.file_allowlist = []
c.VoilaConfiguration.extension_denylist = ["jupyterlab-plotly"]  # the template ships plotly.js once
c.MappingKernelManager.cull_idle_timeout = 600
c.MappingKernelManager.cull_interval = 60
c.MappingKernelManager.cull_connected = False
