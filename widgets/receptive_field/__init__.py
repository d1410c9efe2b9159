"""Dashboard: receptive fields of dilated causal convolutions, and a TCN racing recurrent nets.

It shows, for the TCN built with its controls (kernel size, blocks, dilation schedule or custom
dilations, padding, convolutions per block): the layered diagram of what output t depends on,
down to the inputs (holes marked); autograd's |∂y_t/∂x_s| of the real network, untrained and
trained, under the analytic set; a causality check (change the future, see which outputs
move); parameters against receptive field; the lecture's layer calculator; and a race of that
TCN against a GRU, an LSTM and a tanh RNN on the same batches, with a timeline to scrub back.

| module | holds |
| --- | --- |
| ``state`` | ``ReceptiveFieldState``: the checked knobs, the dilations, the TCN's configuration |
| ``view`` | ``ReceptiveFieldDashboard``: controls, panes, buttons, the race in the training worker |
| ``panels`` | engine data -> figure patches and HTML (readout, calculator, race table) |
| ``yours`` | ``yours(model, ...)``: the receptive field of a student's own module (JupyterLab only), trained on their batches |

All maths lives in ``seqviz``.
"""

from __future__ import annotations

from widgets.receptive_field.state import ReceptiveFieldState
from widgets.receptive_field.view import ReceptiveFieldDashboard
from widgets.receptive_field.yours import yours


def dashboard(**knobs) -> ReceptiveFieldDashboard:
    """The dashboard; keyword arguments set state traits, e.g. ``kernel_size=2, n_blocks=4``."""
    state = ReceptiveFieldState.from_knobs(knobs, derived=('t_max',))
    return ReceptiveFieldDashboard(state)


__all__ = ["dashboard", "yours", "ReceptiveFieldDashboard", "ReceptiveFieldState"]
