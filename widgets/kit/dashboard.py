"""The frame of a live dashboard: state, status line, refresh gate, training worker, buttons.

A dashboard subclasses ``LiveDashboard``, builds its panes and controls, binds them
(``bind_all``), wires its buttons to ``self.worker`` and ends with ``self.page(...)``.
``docs/architecture.md`` walks through the smallest complete one.
"""

from __future__ import annotations

import ipywidgets as ipw

from widgets.kit.address import DashboardTools, from_address
from widgets.kit.checked import CheckedState
from widgets.kit.gate import RefreshGate
from widgets.kit.plotpane import page_link
from widgets.kit.share import ShareControl
from widgets.kit.status import StatusLine, guarded
from widgets.kit.worker import TrainingWorker

BUTTON = ipw.Layout(width="110px")


def training_buttons(step: bool = True) -> dict[str, ipw.Button]:
    """Train, Pause, (One step,) Reset: the same four buttons, labels and colours everywhere."""
    b = {"train": ipw.Button(description="Train", button_style="success", icon="play", layout=BUTTON),
         "pause": ipw.Button(description="Pause", icon="pause", layout=BUTTON, disabled=True)}
    if step:
        b["step"] = ipw.Button(description="One step", layout=BUTTON)
    b["reset"] = ipw.Button(description="Reset", button_style="warning", layout=BUTTON)
    return b


def show_running(buttons: dict[str, ipw.Button], running: bool) -> None:
    """Train / One step are off while training, Pause is on (and the other way round)."""
    buttons["train"].disabled = running
    buttons["pause"].disabled = not running
    if "step" in buttons:
        buttons["step"].disabled = running


class LiveDashboard(ipw.VBox):
    """Base of every dashboard. ``kind`` names it: a second copy opened in the same kernel
    stops the first one's training."""

    kind = "dashboard"

    def __init__(self, state: CheckedState, **kwargs):
        super().__init__(**kwargs)
        self.state = state
        self.status = StatusLine()
        self.gate = RefreshGate()
        self.worker = TrainingWorker(self.kind, self.status, on_running=self.show_running)
        self.refresh_times: list[float] = []  # monotonic time of every training refresh (benchmarks read it)
        state.on_correct(self.status.correct)  # corrections made in code (a lesson's call) are said too
        # The page address's knobs (Voila: ?T=50&lr=0.01), checked, before the dashboard builds anything.
        self.address_notes = from_address(state)
        for i, sentence in enumerate(self.address_notes):
            if sentence not in state.corrections.values():  # (a knob's own correction is said by bind_all)
                self.status.correct(f"address:{i}", sentence)
        self.share = ShareControl(self)  # "Share live view": a class follows this dashboard (follow mode)
        self.tools = DashboardTools(self)  # "Copy link", "Save settings" (the knobs and a Python snippet)
        self.add_class("seqviz-dashboard")  # the kit's CSS: fit the container, wrap rows, presenter view

    def guarded(self, what: str):
        """Decorator: an error in the callback becomes one sentence ("Could not <what>: ...")."""
        return guarded(self.status, what)

    def show_running(self, running: bool) -> None:
        """Called when training starts and ends; set the buttons (``show_running``)."""

    def close_worker(self) -> None:
        self.worker.close()

    def page(self, *rows) -> None:
        """Lay out the dashboard: ``rows`` top to bottom, the Share live view row (with Copy link and
        Save settings beside the button), and the kernel's page link."""
        row = self.share.children[0] if self.share.children else None
        if isinstance(row, ipw.HBox) and self.tools not in row.children:
            row.children = (row.children[0], self.tools, *row.children[1:])
        self.children = [*rows, self.share, page_link()]
