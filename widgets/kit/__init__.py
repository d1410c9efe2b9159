"""The live kit: what every dashboard stands on, written once.

| module | holds |
| --- | --- |
| ``plotpane`` | ``PlotPane`` (a plotly figure redrawn alone, acknowledged), ``when_drawn``, ``page_link`` (plotly.js, heartbeat, typed input) |
| ``status`` | ``StatusLine`` (one line; corrections of the current input), ``EquationBox``, ``guarded``, ``device_badge``, ``log`` |
| ``checked`` | ``CheckedState`` (ranges, choices, text limits), ``bind`` / ``bind_all``, ``guard_widget`` |
| ``worker`` | ``TrainingWorker`` (start / pause / one step; time limit, divergence, closed page, kernel exit), ``warm_up_torch`` |
| ``gate`` | ``RefreshGate`` (hold after a control, skip while drawing, a rate per key), ``Throttle`` |
| ``timeline`` | ``Timeline``: bounded snapshots while training, one slider that scrubs every view |
| ``dashboard`` | ``LiveDashboard`` (the frame), ``training_buttons``, ``show_running`` |
| ``address`` | the knobs in the page address (``from_address``, ``link_query``), ``DashboardTools`` (Copy link, Save settings + Python snippet) |
| ``share`` | ``ShareControl`` (Share live view: every dashboard has one), ``Publisher`` (follow mode's sender) |

No maths here: numbers come from ``seqviz``. Nothing here calls ``display`` or ``print``.
"""

from widgets.kit.address import DashboardTools, apply_settings, from_address, link_query, settings
from widgets.kit.checked import CheckedState, bind, bind_all, guard_widget
from widgets.kit.dashboard import LiveDashboard, show_running, training_buttons
from widgets.kit.gate import RefreshGate, Throttle
from widgets.kit.plotpane import PlotPane, page_link, when_drawn
from widgets.kit.share import Publisher, ShareControl
from widgets.kit.status import EquationBox, StatusLine, device_badge, guarded, log
from widgets.kit.timeline import Timeline, weights
from widgets.kit.worker import MAX_TRAIN_S, TrainingWorker, model_label, warm_up_torch

__all__ = ["CheckedState", "bind", "bind_all", "guard_widget", "LiveDashboard", "show_running", "training_buttons",
           "RefreshGate", "Throttle", "PlotPane", "page_link", "when_drawn", "EquationBox", "StatusLine",
           "device_badge", "guarded", "log", "Timeline", "weights", "MAX_TRAIN_S", "TrainingWorker", "model_label",
           "warm_up_torch", "Publisher", "ShareControl", "DashboardTools", "apply_settings", "from_address",
           "link_query", "settings"]
