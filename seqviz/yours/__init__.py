"""Your own model, your own data: the engine side of the dashboards' ``yours(...)`` entry points.

A student who has written an LSTM, a TCN or a small transformer in JupyterLab hands it to a
dashboard; everything here checks that it fits, probes it through hooks that are always removed,
and trains it with the project's one training loop.

| module | holds |
| --- | --- |
| ``fit`` | ``DoesNotFit`` (its message is the one sentence a dashboard shows), ``describe`` (what a value is, in words), the checks every entry point makes: a module, one device, a forward that returns one tensor |
| ``training`` | ``user_run``: the student's module, batches, loss and optimizer as a ``seqviz.training.Run``; ``batch_source``, ``default_loss`` |
| ``gradients`` | ``probe_gradients``: per-step ||dL/dh_t|| (||dL/dc_t||) of a module built on nn.RNN / nn.LSTM / nn.GRU, or of a hand-written cell that calls ``mark(h_t)`` |
| ``receptive`` | ``measure``: the empirical receptive field of any (B, C, T) -> (B, C', T) module by autograd, the analytic one of a plain nn.Conv1d stack, the causality check |
| ``attention`` | ``capture_attention``: per-head weights of every nn.MultiheadAttention inside a module; ``check_attention`` for weights passed in |
| ``data`` | ``check_series``, ``check_sequences``, ``check_corpus``: a student's numbers, sequences and text for lessons 00-02 |
| ``text_models`` | a student's character-level model (checks, held-out bits, sampling, its training run) and word vectors (lessons 07, 08) |

Nothing here imports ipywidgets or IPython; the dashboards' side is ``widgets/kit/yours.py``.
"""

from seqviz.yours.fit import DoesNotFit, call_forward, describe, module_device, require_module, require_tensor
from seqviz.yours.training import batch_source, default_loss, user_run
from seqviz.yours.gradients import mark, probe_gradients  # noqa: E402  (after fit and training: it uses both)
from seqviz.yours.receptive import measure as measure_receptive_field  # noqa: E402
from seqviz.yours.attention import capture_attention, check_attention  # noqa: E402
from seqviz.yours.data import check_corpus, check_sequences, check_series  # noqa: E402
from seqviz.yours import text_models  # noqa: E402

__all__ = ["DoesNotFit", "call_forward", "describe", "module_device", "require_module", "require_tensor",
           "batch_source", "default_loss", "user_run", "mark", "probe_gradients", "measure_receptive_field",
           "capture_attention", "check_attention", "check_corpus", "check_sequences", "check_series", "text_models"]
