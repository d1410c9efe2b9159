"""Dashboard: a character-level language model (LSTM, GRU or small transformer) learning to write, live.

Train on first names (default), mail, the Brown corpus, Python's help or pasted text; held-out bits per
character against lesson 02's Markov model on the same split; samples while it trains; the next-character
distribution at temperature 1 and tau; units coloured over text and ranked by simple features; teacher forcing
vs scheduled sampling, teacher-forced and free-running; sampled lengths against the corpus's.

| module | holds |
| --- | --- |
| ``state`` | ``CharLMState``: every knob, checked |
| ``view`` | ``CharLMDashboard``: controls, layout, training, refreshes |
| ``panels`` | the HTML panels (samples, continuations, coloured passage, progress, equations) |
| ``yours`` | ``yours(model=None, text=None, ...)``: the dashboard on the student's own text or model (JupyterLab); ``yours_vocab(text)`` |

Figures: ``seqviz.figures.charlm``; numbers: ``seqviz.experiments.charlm`` and ``seqviz.models.charlm``.
"""

from widgets.charlm.state import CharLMState
from widgets.charlm.view import CharLMDashboard
from widgets.charlm.yours import yours, yours_vocab


def dashboard(preset: str | None = None, **knobs) -> CharLMDashboard:
    """The dashboard; ``preset`` ("cpu", "gpu", "tiny") defaults to what ``seqviz.devices`` picks."""
    return CharLMDashboard(CharLMState(**knobs), preset=preset)


__all__ = ["CharLMDashboard", "CharLMState", "dashboard", "yours", "yours_vocab"]
