"""The receptive-field dashboard's knobs, checked (any browser can send any value), and what
follows from them: the dilations, the TCN's configuration, the sequence length of the race."""

from __future__ import annotations

import traitlets as tl

from seqviz.data.tasks import get_task
from seqviz.devices import pick_device
from seqviz.experiments.race import DEFAULT_RACE, races_for
from seqviz.models.tcn import TCNConfig
from widgets.kit import CheckedState

MAX_DIL, MAX_CUSTOM = 256, 8  # custom dilations: each at most MAX_DIL, at most MAX_CUSTOM of them
RACE_PRESETS = races_for(pick_device().device)  # the GPU races (T = 1000) only on CUDA
ARCH = ("kernel_size", "n_blocks", "schedule", "custom", "padding", "convs_per_block", "race")  # rebuild the race


def parse_dilations(text: str) -> tuple[tuple[int, ...] | None, str | None]:
    """'1, 4, 16' -> ((1, 4, 16), None); anything else -> (None, what to type instead)."""
    parts = [p for p in str(text)[:200].replace(",", " ").split() if p]
    try:
        ds = tuple(int(p) for p in parts)
    except ValueError:
        return None, "Type the custom dilations as whole numbers separated by commas, e.g. 1, 4, 16"
    if not 1 <= len(ds) <= MAX_CUSTOM or any(not 1 <= d <= MAX_DIL for d in ds):
        return None, f"Give 1 to {MAX_CUSTOM} custom dilations, each from 1 to {MAX_DIL}, e.g. 1, 4, 16"
    return ds, None


def seq_len(race: str) -> int:
    """Input length of a race preset's sequences (copy memory adds 20 steps)."""
    p = RACE_PRESETS[race]
    return get_task(p.task).seq_len(p.T)


class ReceptiveFieldState(CheckedState):
    RANGES = {"kernel_size": (2, 7, True), "n_blocks": (1, 8, True), "convs_per_block": (1, 2, True),
              "t": lambda s: (0, s.t_max, True),  # the race's last output position
              "calc_reach": (1, 10 ** 9, True), "calc_k": (2, 64, True)}
    CHOICES = {"schedule": ("doubling", "constant", "custom"), "padding": ("causal", "centred"),
               "race": tuple(RACE_PRESETS)}
    TEXTS = {"custom": 200}
    LABELS = {"kernel_size": "Kernel size k", "n_blocks": "Blocks", "convs_per_block": "Convs per block",
              "t": "Output position t", "calc_reach": "Inputs to see N", "calc_k": "The calculator's kernel k",
              "schedule": "dilation schedule", "padding": "padding", "race": "race", "custom": "custom dilations"}

    kernel_size = tl.Any(3)  # tl.Any: NaN or text from a client reaches the check instead of failing
    n_blocks = tl.Any(6)
    schedule = tl.Unicode("doubling")
    custom = tl.Any("1, 4, 16")
    padding = tl.Unicode("causal")
    convs_per_block = tl.Any(1)
    t = tl.Any(70)
    t_max = tl.Int(seq_len(DEFAULT_RACE) - 1)  # derived from the race preset
    calc_reach = tl.Any(22050)
    calc_k = tl.Any(7)
    race = tl.Unicode(DEFAULT_RACE)

    def _check(self, proposal):
        """The kit's checks; custom dilations are also parsed (a bad list keeps the previous one)."""
        value = super()._check(proposal)
        if proposal.trait.name != "custom":
            return value
        old = self.custom
        ds, msg = parse_dilations(value)
        if msg:
            self.correct("custom", f"{msg}; the previous dilations ({old}) are kept.")
            return old
        return ", ".join(map(str, ds))

    @tl.observe("race")
    def _race_changed(self, change) -> None:
        self.t_max = seq_len(change["new"]) - 1
        if self.t > self.t_max:
            self.t = self.t_max

    @property
    def seq_len(self) -> int:
        return self.t_max + 1

    def dilations(self) -> tuple[int, ...]:
        if self.schedule == "custom":
            return parse_dilations(self.custom)[0] or (1,)
        return tuple(2 ** i if self.schedule == "doubling" else 1 for i in range(self.n_blocks))

    def tcn_config(self) -> TCNConfig:
        """The architecture the knobs describe (inputs and head are set by the race's task)."""
        return TCNConfig(kernel_size=self.kernel_size, dilations=self.dilations(),
                         convs_per_block=self.convs_per_block, padding=self.padding)

    def arch(self) -> tuple[TCNConfig, str, tuple]:
        """(TCN configuration, race preset, key), read at one moment: what a race is built from.
        A change of the key rebuilds the TCN and resets the race."""
        c, race = self.tcn_config(), self.race
        return c, race, (c.kernel_size, c.dilations, c.convs_per_block, c.padding, race)

    def arch_key(self) -> tuple:
        return self.arch()[2]
