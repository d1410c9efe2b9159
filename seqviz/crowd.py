"""Is this machine crowded? The signal the dashboards use to start with their class preset (issue 17).

Measured (README, "A class of 30 on one machine"): the gradient-flow default preset needs about
1457 steps for its story, one core gives one training 157-162 steps/s at best, so at most about
``PER_CORE`` = 6 students per core can train at once and still see it within a minute.

Two signals, both true and cheap:

- **the server's count** (``make dashboard``): the admission server writes how many dashboards
  are open (``seqviz_server/admission.py``) to the file named by ``SEQVIZ_CROWD_FILE``, which
  every kernel it starts inherits. The count has no lag (a place is taken before the notebook
  runs) and counts only seqviz dashboards, so where it exists it is the signal.
- **the load average** where no server counts (JupyterLab, JupyterHub): ``os.getloadavg()``'s
  one-minute figure against the cores (it lags a minute behind and counts any work).

Crowded: more than ``PER_CORE`` dashboards (or runnable processes) per core.
``SEQVIZ_CLASS_PRESET`` overrides: ``on`` (always: a teacher who knows the class will train at
once), ``off`` (never), ``auto`` (the default: the signals above).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

CROWD_FILE_ENV = "SEQVIZ_CROWD_FILE"  # set by the admission server for its kernels
MODE_ENV = "SEQVIZ_CLASS_PRESET"  # auto | on | off
PER_CORE = 6  # trainings per core that still see the default story within a minute (measured)


@dataclass(frozen=True)
class Crowding:
    crowded: bool
    source: str  # "server", "load", "setting" or "none"
    reason: str  # what was measured, in words ("30 dashboards are open on this machine's 2 cores")
    count: float | None = None  # open dashboards (server) or the load average
    cores: int = 1


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def server_count(env=None) -> tuple[int, int] | None:
    """(open dashboards, cores) from the admission server's file, or None: no file, unreadable,
    or written by a server that is no longer running."""
    env = os.environ if env is None else env
    path = env.get(CROWD_FILE_ENV, "")
    if not path:
        return None
    try:
        with open(path) as f:
            d = json.load(f)
        n, cores, pid = int(d["open"]), int(d["cores"]), int(d["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except OSError:
        pass  # alive but not ours to signal
    return max(0, n), max(1, cores)


def crowding(env=None, server: tuple[int, int] | None | bool = True, load: float | None = None,
             cores: int | None = None) -> Crowding:
    """Whether this machine is crowded, and why, in words.

    ``server``: (open dashboards, cores) or None; True reads the admission server's file. ``load``:
    the one-minute load average (default ``os.getloadavg()``), used only without a server count.
    """
    env = os.environ if env is None else env
    mode = env.get(MODE_ENV, "auto").strip().lower()
    cores = cores or os.cpu_count() or 1
    if mode in ("on", "1", "yes", "true"):
        return Crowding(True, "setting", f"{MODE_ENV} is on", cores=cores)
    if mode in ("off", "0", "no", "false"):
        return Crowding(False, "setting", f"{MODE_ENV} is off", cores=cores)
    if server is True:
        server = server_count(env)
    if server:
        n, c = server
        return Crowding(n > PER_CORE * c, "server",
                        f"{'1 dashboard is' if n == 1 else f'{n} dashboards are'} open on this machine's "
                        f"{_plural(c, 'core')}", n, c)
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (OSError, AttributeError):
            return Crowding(False, "none", "the machine's load is not known", cores=cores)
    return Crowding(load > PER_CORE * cores, "load",
                    f"this machine's {_plural(cores, 'core')} are at a load average of {load:.1f}", load, cores)


def class_sentence(c: Crowding, what: str, preset_note: str) -> str:
    """The status line's sentence: why the dashboard started with its class preset (``what``:
    e.g. "the class preset (T = 40, H = 16)"; ``preset_note``: what it costs next to the default)."""
    why = {"server": f"The machine is shared: {c.reason}",
           "load": f"The machine is busy: {c.reason}",
           "setting": f"This server asks for it ({c.reason})"}.get(c.source, c.reason)
    return (f"{why}, so this dashboard starts with {what}: {preset_note}. "
            "Choose another preset to change it.")
