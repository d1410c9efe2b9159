"""Elman RNN, LSTM and GRU with two paths over the same parameters.

- ``forward`` trains on PyTorch's fused kernels (``nn.RNN`` / ``nn.LSTM`` /
  ``nn.GRU``; cuDNN on a GPU), optionally with truncated BPTT.
- ``unrolled`` runs the same equations one step at a time in Python, exposing
  h_t, c_t and the gates, and can add zero "probe" tensors to h_t and c_t whose
  gradients are exactly dL/dh_t and dL/dc_t. It costs a few times a fused step:
  probe now and then, never train on it alone.
- ``states`` (no gradients) runs the fused kernel once, in any precision, and
  recomputes the gates of every step from its h_(t-1) all at once: the same h_t, c_t
  and gates as ``unrolled``, several times faster (the belt view and the fast probe).

Equations (PyTorch's gate order and biases):
  RNN   h_t = act(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh)
  LSTM  i_t, f_t, g_t, o_t = sig, sig, tanh, sig of (W_ih x_t + b_ih + W_hh h_(t-1) + b_hh)
        c_t = f_t * c_(t-1) + i_t * g_t ;  h_t = o_t * tanh(c_t)
  GRU   r_t, z_t = sig(W_i[r,z] x_t + b_i + W_h[r,z] h_(t-1) + b_h)
        n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_(t-1) + b_hn))
        h_t = (1 - z_t) * n_t + z_t * h_(t-1)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import torch
from torch import nn

CELLS = ("rnn", "lstm", "gru")
GATE_NAMES = {"rnn": (), "lstm": ("f", "i", "g", "o"), "gru": ("z", "r", "n")}


@dataclass
class RecurrentConfig:
    cell: str = "lstm"  # "rnn" (Elman), "lstm" or "gru"
    n_in: int = 2  # D, input features per step
    hidden: int = 64  # H, hidden units
    n_out: int = 1  # output features per step (read from h_t by a linear head)
    activation: str = "tanh"  # Elman RNN only: "tanh" or "relu"
    w_hh_radius: float | None = None  # Elman RNN only: rescale W_hh to this spectral radius at init
    forget_bias: float | None = None  # LSTM only: b_f at init (None = PyTorch default, f ~ 0.5)


def cut_points(T: int, k: int | None) -> list[int]:
    """Steps whose incoming state is detached for truncated BPTT with window k.

    Cuts are aligned to the end, so a loss at the last step reaches exactly the
    last k steps. ``None`` or ``k >= T`` means full BPTT (no cuts).
    """
    if not k or k >= T:
        return []
    return sorted(range(T - k, 0, -k))


@dataclass
class Trace:
    """What ``unrolled`` exposes. All tensors (B, T, H) unless noted."""

    out: torch.Tensor  # (B, T, n_out)
    h: torch.Tensor
    c: torch.Tensor | None  # LSTM only
    gates: dict[str, torch.Tensor] = field(default_factory=dict)  # "f","i","g","o" or "z","r","n"
    h_probe: torch.Tensor | None = None  # leaf (T, B, H) of zeros; after backward, .grad[t] = dL/dh_t
    c_probe: torch.Tensor | None = None  # LSTM: leaf (T, B, H); .grad[t] = dL/dc_t


class RecurrentModel(nn.Module):
    """One recurrent layer and a linear read-out at every step."""

    def __init__(self, cfg: RecurrentConfig):
        super().__init__()
        if cfg.cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, not {cfg.cell!r}")
        self.cfg = cfg
        if cfg.cell == "rnn":
            self.rnn = nn.RNN(cfg.n_in, cfg.hidden, nonlinearity=cfg.activation, batch_first=True)
        elif cfg.cell == "lstm":
            self.rnn = nn.LSTM(cfg.n_in, cfg.hidden, batch_first=True)
        else:
            self.rnn = nn.GRU(cfg.n_in, cfg.hidden, batch_first=True)
        self.head = nn.Linear(cfg.hidden, cfg.n_out)

    # -- fused path -------------------------------------------------------------
    def forward(self, x: torch.Tensor, tbptt: int | None = None) -> torch.Tensor:
        """x (B, T, D) -> outputs (B, T, n_out) on the fused kernel.

        With ``tbptt=k`` the state is detached at ``cut_points(T, k)``.
        """
        T = x.shape[1]
        bounds = [0, *cut_points(T, tbptt), T]
        state, outs = None, []
        for s, e in zip(bounds[:-1], bounds[1:]):
            if state is not None:
                state = tuple(v.detach() for v in state) if isinstance(state, tuple) else state.detach()
            y, state = self.rnn(x[:, s:e], state)  # y (B, e-s, H)
            outs.append(y)
        return self.head(torch.cat(outs, dim=1))

    # -- unrolled path ----------------------------------------------------------
    def unrolled(
        self,
        x: torch.Tensor,
        tbptt: int | None = None,
        probes: bool = False,
        dtype: torch.dtype | None = None,
    ) -> Trace:
        """Step-by-step pass with the fused path's parameters; see module docstring.

        ``dtype=torch.float64`` runs the recurrence in double precision (gradients
        still land in the float32 parameters) so per-step gradients of 1e-40 stay
        visible instead of underflowing to 0.
        """
        cell = self.cfg.cell
        dt = dtype or x.dtype
        W_ih = self.rnn.weight_ih_l0.to(dt)  # (G*H, D)
        W_hh = self.rnn.weight_hh_l0.to(dt)  # (G*H, H)
        b_ih = self.rnn.bias_ih_l0.to(dt)
        b_hh = self.rnn.bias_hh_l0.to(dt)
        B, T, _ = x.shape
        H = self.cfg.hidden
        xw = x.to(dt) @ W_ih.T + b_ih  # (B, T, G*H): input part of every step at once
        h = x.new_zeros(B, H, dtype=dt)
        c = x.new_zeros(B, H, dtype=dt) if cell == "lstm" else None
        cuts = set(cut_points(T, tbptt))
        hs, cs = [], []
        gates: dict[str, list[torch.Tensor]] = {g: [] for g in GATE_NAMES[cell]}
        # One leaf per state, unbound into T views: one op each way instead of T.
        h_probe = torch.zeros(T, B, H, dtype=dt, device=x.device, requires_grad=True) if probes else None
        c_probe = torch.zeros(T, B, H, dtype=dt, device=x.device, requires_grad=True) \
            if probes and cell == "lstm" else None
        hp = h_probe.unbind(0) if probes else None
        cp = c_probe.unbind(0) if c_probe is not None else None
        act = torch.tanh if self.cfg.activation == "tanh" or cell != "rnn" else torch.relu
        for t in range(T):
            if t in cuts:
                h = h.detach()
                c = c.detach() if c is not None else None
            hw = h @ W_hh.T + b_hh  # (B, G*H)
            if cell == "rnn":
                h = act(xw[:, t] + hw)
            elif cell == "lstm":
                i, f, g, o = (xw[:, t] + hw).chunk(4, dim=1)  # each (B, H)
                i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
                c = f * c + i * g
                if probes:
                    c = c + cp[t]
                h = o * torch.tanh(c)
                for name, v in zip("figo", (f, i, g, o)):
                    gates[name].append(v)
            else:
                xr, xz, xn = xw[:, t].chunk(3, dim=1)
                hr, hz, hn = hw.chunk(3, dim=1)
                r = torch.sigmoid(xr + hr)
                z = torch.sigmoid(xz + hz)
                n = torch.tanh(xn + r * hn)
                h = (1 - z) * n + z * h
                for name, v in zip("zrn", (z, r, n)):
                    gates[name].append(v)
            if probes:
                h = h + hp[t]
            hs.append(h)
            if c is not None:
                cs.append(c)
        hseq = torch.stack(hs, dim=1)  # (B, T, H)
        out = self.head(hseq.to(self.head.weight.dtype))
        return Trace(
            out=out,
            h=hseq,
            c=torch.stack(cs, dim=1) if cs else None,
            gates={k: torch.stack(v, dim=1) for k, v in gates.items()},
            h_probe=h_probe,
            c_probe=c_probe,
        )


    # -- fused states ------------------------------------------------------------
    @torch.no_grad()
    def states(self, x: torch.Tensor, dtype: torch.dtype | None = None) -> Trace:
        """h_t for every step from the fused kernel, run in ``dtype`` (float64 keeps gradients
        of 1e-40 representable for the probes); the gates and c_t recomputed from h_(t-1)
        for all steps at once (c_t by a scan: two element-wise ops per step). No gradients,
        no probes; ``Trace.out`` is the read-out in the head's own precision."""
        cell, r = self.cfg.cell, self.rnn
        dt = dtype or x.dtype
        W_ih, W_hh, b_ih, b_hh = (p.detach().to(dt) for p in
                                  (r.weight_ih_l0, r.weight_hh_l0, r.bias_ih_l0, r.bias_hh_l0))
        xd = x.detach().to(dt)
        B, T, _ = xd.shape
        H = self.cfg.hidden
        h0 = xd.new_zeros(1, B, H)
        params = [W_ih, W_hh, b_ih, b_hh]
        with warnings.catch_warnings():  # cuDNN notes that these copies are not one flat buffer
            warnings.simplefilter("ignore")
            if cell == "rnn":
                fn = torch.rnn_tanh if self.cfg.activation == "tanh" else torch.rnn_relu
                h, _ = fn(xd, h0, params, True, 1, 0.0, False, False, True)
            elif cell == "lstm":
                h, _, _ = torch.lstm(xd, (h0, h0), params, True, 1, 0.0, False, False, True)
            else:
                h, _ = torch.gru(xd, h0, params, True, 1, 0.0, False, False, True)
        c, gates = None, {}
        if cell != "rnn":
            h_prev = torch.cat([xd.new_zeros(B, 1, H), h[:, :-1]], dim=1)  # (B, T, H)
            xw = xd @ W_ih.T + b_ih  # (B, T, G*H)
            hw = h_prev @ W_hh.T + b_hh
            if cell == "lstm":
                i, f, g, o = (xw + hw).chunk(4, dim=-1)
                i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
                ig = i * g
                c = torch.empty_like(ig)
                ct = xd.new_zeros(B, H)
                for t in range(T):
                    ct = torch.addcmul(ig[:, t], f[:, t], ct)
                    c[:, t] = ct
                gates = {"f": f, "i": i, "g": g, "o": o}
            else:
                xr, xz, xn = xw.chunk(3, dim=-1)
                hr, hz, hn = hw.chunk(3, dim=-1)
                rr, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
                gates = {"z": z, "r": rr, "n": torch.tanh(xn + rr * hn)}
        out = self.head(h.to(self.head.weight.dtype))
        return Trace(out=out, h=h, c=c, gates=gates)


def init_recurrent(model: RecurrentModel, gen: torch.Generator) -> RecurrentModel:
    """Initialise every parameter from ``gen`` (PyTorch's default scheme), then apply
    the config's W_hh spectral radius (RNN) and forget-gate bias (LSTM)."""
    cfg = model.cfg
    with torch.no_grad():
        bound = cfg.hidden ** -0.5  # PyTorch's U(-1/sqrt(H), 1/sqrt(H)) for recurrent layers
        for p in model.rnn.parameters():
            p.uniform_(-bound, bound, generator=gen)
        hb = cfg.hidden ** -0.5  # nn.Linear's default bound is 1/sqrt(fan_in)
        model.head.weight.uniform_(-hb, hb, generator=gen)
        model.head.bias.uniform_(-hb, hb, generator=gen)
        if cfg.cell == "rnn" and cfg.w_hh_radius is not None:
            W = model.rnn.weight_hh_l0
            rho = torch.linalg.eigvals(W.double()).abs().max().item()
            W.mul_(cfg.w_hh_radius / max(rho, 1e-12))
        if cfg.cell == "lstm" and cfg.forget_bias is not None:
            H = cfg.hidden
            model.rnn.bias_ih_l0[H : 2 * H] = cfg.forget_bias  # gate order i, f, g, o
            model.rnn.bias_hh_l0[H : 2 * H] = 0.0
    return model


def build_recurrent(cfg: RecurrentConfig, seed: int, device: torch.device | str = "cpu") -> RecurrentModel:
    """Construct and initialise a model; the same (cfg, seed) gives the same weights."""
    gen = torch.Generator().manual_seed(int(seed))
    with torch.random.fork_rng(devices=[]):  # nn.RNN's own init draws from the global RNG; leave it as it was
        model = RecurrentModel(cfg)
    return init_recurrent(model, gen).to(device)


def spectral_radius(W: torch.Tensor) -> float:
    """Largest |eigenvalue| of a square matrix."""
    return float(torch.linalg.eigvals(W.detach().double().cpu()).abs().max())


def spectral_norm(W: torch.Tensor) -> float:
    """||W||_2: the largest singular value."""
    return float(torch.linalg.svdvals(W.detach().double().cpu())[0])
