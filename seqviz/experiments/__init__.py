"""Experiments: the set-ups the lessons and dashboards run, as plain engine code.

- ``gradflow``: an RNN beside an LSTM/GRU on a long-range task, presets, ``per_step_gradient_norms``;
- ``race``: a TCN against GRU, LSTM and tanh RNN on equal compute;
- ``attention``: a seq2seq model with and without attention, and a small transformer.

Each builds ``seqviz.training.Run`` objects; none knows about widgets.
"""

from seqviz.experiments.gradflow import (DEFAULT_PRESET, GPU_PRESETS, PRESETS, GradFlowConfig, RecurrentSetup,
                                         build_gradflow_run, limits_for, per_step_gradient_norms, presets_for,
                                         recurrent_run)

__all__ = ["DEFAULT_PRESET", "GPU_PRESETS", "PRESETS", "limits_for", "presets_for", "GradFlowConfig", "RecurrentSetup", "build_gradflow_run",
           "per_step_gradient_norms", "recurrent_run"]
