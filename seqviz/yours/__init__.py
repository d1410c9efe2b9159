"""Your own model, your own data: the engine side of the dashboards' ``yours(...)`` entry points.

A student who has written an LSTM, a TCN or a small transformer in JupyterLab hands it to a
dashboard; everything here checks that it fits, probes it through hooks that are always removed,
and trains it with the project's one training loop.

| module | holds |
| --- | --- |
| ``fit`` | ``DoesNotFit`` (its message is the one sentence a dashboard shows), ``describe`` (what a value is, in words), the checks every entry point makes: a module, one device, a forward that returns one tensor |
| ``training`` | ``user_run``: the student's module, batches, loss and optimizer as a ``seqviz.training.Run``; ``batch_source``, ``default_loss`` |

Nothing here imports ipywidgets or IPython; the dashboards' side is ``widgets/kit/yours.py``.
"""

from seqviz.yours.fit import DoesNotFit, call_forward, describe, module_device, require_module, require_tensor
from seqviz.yours.training import batch_source, default_loss, user_run

__all__ = ["DoesNotFit", "call_forward", "describe", "module_device", "require_module", "require_tensor",
           "batch_source", "default_loss", "user_run"]
