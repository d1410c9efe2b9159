"""JupyterHub for seqviz: every user gets the dashboards (Voila inside their own server, landing on
the dashboard list) and the lessons in JupyterLab, with the idle culler, per-user limits where the
spawner enforces them, and a limit on spawns at once.

    jupyterhub -f deploy/jupyterhub_config.py          (from the repository, with its .venv)

Settings come from the environment so the same file serves a laptop try-out, The Littlest
JupyterHub and the test (tests/test_hub.py starts it for real):

  SEQVIZ_HUB_SPAWNER   simple (default: every user is a process of the hub's own user, home in
                       /tmp/<name>; for a try-out and the test) | systemd (one systemd unit per user,
                       memory and CPU limits enforced; TLJH uses it) | local (system users)
  SEQVIZ_HUB_AUTH      dummy (default: any name, the password below; for a try-out only) or any
                       authenticator class name (e.g. nativeauthenticator.NativeAuthenticator)
  SEQVIZ_HUB_PASSWORD  the dummy authenticator's shared password (default: none needed)
  SEQVIZ_HUB_URL       where the hub listens (default http://127.0.0.1:8000; 0.0.0.0 for a class)
  SEQVIZ_HUB_STATE     folder for the database, cookie secret and proxy pid (default deploy/state)
  SEQVIZ_CULL_TIMEOUT  seconds idle before a user's server is stopped (default 1800)
  SEQVIZ_CULL_EVERY    how often the culler looks (default 60)
  SEQVIZ_MEM_LIMIT     per-user memory limit (default 1G: see deploy/README.md for the arithmetic)
  SEQVIZ_CPU_LIMIT     per-user CPU limit in cores (default 1)
  SEQVIZ_SPAWN_AT_ONCE concurrent spawns (default 10)
"""

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(os.environ.get("SEQVIZ_ROOT", Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(ROOT))
from seqviz_server.serve import install_static_plotly, voila_env  # noqa: E402

c = get_config()  # noqa: F821 - provided by JupyterHub
env = os.environ.get
state = Path(env("SEQVIZ_HUB_STATE", str(ROOT / "deploy" / "state")))
state.mkdir(parents=True, exist_ok=True)

# -- the hub, the proxy ---------------------------------------------------------------------
c.JupyterHub.bind_url = env("SEQVIZ_HUB_URL", "http://127.0.0.1:8000")
c.JupyterHub.hub_bind_url = env("SEQVIZ_HUB_API_URL", "http://127.0.0.1:8081")
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
c.ConfigurableHTTPProxy.api_url = env("SEQVIZ_PROXY_API_URL", "http://127.0.0.1:8001")
_chp = ROOT / ".ci" / "node" / "node_modules" / ".bin" / "configurable-http-proxy"  # `.ci/run` installs it
if _chp.exists():
    c.ConfigurableHTTPProxy.command = [str(_chp)]
c.JupyterHub.concurrent_spawn_limit = int(env("SEQVIZ_SPAWN_AT_ONCE", "10"))
c.JupyterHub.last_activity_interval = int(env("SEQVIZ_ACTIVITY_INTERVAL", "60"))

# -- who may log in -----------------------------------------------------------------------------
auth = env("SEQVIZ_HUB_AUTH", "dummy")
c.JupyterHub.authenticator_class = auth
if auth == "dummy":
    if env("SEQVIZ_HUB_PASSWORD"):
        c.DummyAuthenticator.password = env("SEQVIZ_HUB_PASSWORD")
    c.Authenticator.allow_all = True
admin = env("SEQVIZ_HUB_ADMIN")
if admin:
    c.Authenticator.admin_users = {admin}

# -- each user's server ---------------------------------------------------------------------------
spawner = env("SEQVIZ_HUB_SPAWNER", "simple")
c.JupyterHub.spawner_class = {"simple": "jupyterhub.spawner.SimpleLocalProcessSpawner",
                              "local": "jupyterhub.spawner.LocalProcessSpawner",
                              "systemd": "systemdspawner.SystemdSpawner"}.get(spawner, spawner)
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/voila/tree"  # the dashboard list; JupyterLab is at /lab
c.Spawner.notebook_dir = "~/seqviz-lessons"  # (the simple spawner's homes: below)
c.Spawner.http_timeout = 120  # a busy machine at the start of a class
c.Spawner.start_timeout = 180
# Enforced by SystemdSpawner (TLJH) and KubeSpawner (Zero to JupyterHub); the local-process
# spawners only pass them on as MEM_LIMIT / CPU_LIMIT.
c.Spawner.mem_limit = env("SEQVIZ_MEM_LIMIT", "1G")
c.Spawner.cpu_limit = float(env("SEQVIZ_CPU_LIMIT", "1"))

_env = voila_env({})  # OMP_NUM_THREADS=1, the seqviz template on JUPYTER_PATH, the repository on PYTHONPATH
c.Spawner.environment = {k: _env[k] for k in ("OMP_NUM_THREADS", "SEQVIZ_THREADS", "JUPYTER_PATH", "PYTHONPATH")}
c.Spawner.environment["JUPYTERHUB_ACTIVITY_INTERVAL"] = env("SEQVIZ_ACTIVITY_INTERVAL", "60")
c.Spawner.args = [
    # Voila inside the user's server, with `make dashboard`'s settings (seqviz_server/serve.py)
    "--VoilaConfiguration.template=seqviz",
    "--VoilaConfiguration.classic_tree=True",
    "--VoilaConfiguration.theme=light",
    "--VoilaConfiguration.file_allowlist=[]",
    '--VoilaConfiguration.extension_denylist=["jupyterlab-plotly"]',
    # a dashboard left open is not a reason to keep its kernel for ever; the hub's culler then
    # stops the whole server once nothing has happened for SEQVIZ_CULL_TIMEOUT
    "--MappingKernelManager.cull_idle_timeout=600",
    "--MappingKernelManager.cull_interval=60",
    "--MappingKernelManager.cull_connected=False",
]
if spawner == "simple" and os.geteuid() == 0:  # CI containers run everything as root
    c.Spawner.args.append("--allow-root")
if spawner == "simple":
    c.SimpleLocalProcessSpawner.home_dir_template = str(state / "home" / "{username}")
    c.Spawner.notebook_dir = str(state / "home" / "{username}" / "seqviz-lessons")
install_static_plotly()  # plotly.js next to the template, served as a static file


def copy_lessons(spawner):
    """Each user gets their own copy of the lessons (edits in JupyterLab stay theirs); an existing
    copy is kept, new lessons are added."""
    if hasattr(spawner, "home_dir"):
        home = Path(spawner.home_dir)
    else:
        import pwd

        home = Path(pwd.getpwnam(spawner.user.name).pw_dir)
    dest = home / "seqviz-lessons"
    dest.mkdir(parents=True, exist_ok=True)
    for nb in sorted((ROOT / "lessons").glob("*.ipynb")):
        if not (dest / nb.name).exists():
            shutil.copy2(nb, dest / nb.name)
    if spawner.__class__.__name__ != "SimpleLocalProcessSpawner":
        import pwd

        pw = pwd.getpwnam(spawner.user.name)
        for p in [dest, *dest.iterdir()]:
            os.chown(p, pw.pw_uid, pw.pw_gid)


c.Spawner.pre_spawn_hook = copy_lessons

# -- the idle culler ---------------------------------------------------------------------------------
c.JupyterHub.services = [{
    "name": "idle-culler",
    "command": [sys.executable, "-m", "jupyterhub_idle_culler",
                f"--timeout={env('SEQVIZ_CULL_TIMEOUT', '1800')}",
                f"--cull-every={env('SEQVIZ_CULL_EVERY', '60')}"],
}]
c.JupyterHub.load_roles = [{
    "name": "idle-culler",
    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    "services": ["idle-culler"],
}]

# -- for the test and the benchmark only: a token that creates users and starts their servers ------
if env("SEQVIZ_HUB_MONITOR_TOKEN"):
    c.JupyterHub.services.append({"name": "seqviz-monitor", "api_token": env("SEQVIZ_HUB_MONITOR_TOKEN")})
    c.JupyterHub.load_roles.append({
        "name": "seqviz-monitor",
        "scopes": ["admin:users", "servers", "access:servers", "list:users", "read:users"],
        "services": ["seqviz-monitor"],
    })
