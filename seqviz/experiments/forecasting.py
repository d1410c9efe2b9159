"""Forecasting one numeric series: baselines, a linear AR model, a GRU and a TCN on the same lag
windows, validated by a random split of windows (which cheats) and by walking forward in time.

The data (``Forecast.__init__``): the series x_0..x_(n-1) becomes windows (x_(t-w)..x_(t-1), x_t)
for every target t >= t0 = max(w, m) (so the seasonal-naive forecast x_(t-m) exists for every window,
and every method sees the same windows). The last ``test_fraction`` of the targets is the test
period; everything before it is the training part, and the normaliser is fitted on the values
before the first test target only.

The methods, each predicting x_t from the window before it:
- persistence: x_t ~ x_(t-1) ("tomorrow = today");
- seasonal naive: x_t ~ x_(t-m) (the same point one season ago);
- AR(w): x_t ~ c + sum_i a_i x_(t-i), fitted by least squares (``fit_ar``);
- a GRU and a TCN (``seqviz.models``) reading the window and predicting from their last step,
  trained by ``seqviz.training.Run`` on mean squared error of the normalised values.

Three ways to score them on the same test period:
- holdout: fitted on the training part once, then one-step-ahead forecasts over the test period;
- walk-forward (``walk_forward_folds``): predict the next k targets, add them to the training
  set (expanding) or keep only the latest L windows (sliding), retrain, move on. A model never
  trains on a target at or after one it predicts. The GRU and TCN are retrained warm: each fold
  continues from the previous fold's weights for ``fold_steps`` steps (the AR is refitted exactly);
- random split (``random_split_folds``): the windows shuffled into K folds (K-fold
  cross-validation); each test-period window is predicted by the model that did not see it, but
  did see its neighbours and the future.

``Forecast.step`` trains in three phases (fit, walk, random) and raises ``Finished`` at the end;
a dashboard calls it from its training thread and reads the results from another (``lock``).
"""

from __future__ import annotations

import copy
import math
import threading
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F

from seqviz.data.series import Normaliser, Series, SeriesError, windows
from seqviz.models.recurrent import RecurrentConfig, build_recurrent
from seqviz.models.tcn import TCNConfig, build_tcn
from seqviz.probes.receptive import receptive_field
from seqviz.training import Finished, Run, TrainConfig

METHODS = ("persistence", "seasonal", "ar", "gru", "tcn")
NEURAL = ("gru", "tcn")
LABELS = {"persistence": "persistence", "seasonal": "seasonal naive", "ar": "linear AR", "gru": "GRU",
          "tcn": "TCN"}
SCHEMES = ("expanding", "sliding")
MAX_FOLDS = 60  # walk-forward folds at most (k is raised to keep to it)
MAX_ORIGINS = 60  # forecast origins of the horizon view at most (evenly spread)
MAX_HORIZON = 40  # the horizon view computes h = 1..this (fewer on a short test period)


@dataclass
class ForecastConfig:
    w: int = 12  # window width: lags each method reads
    m: int = 11  # season of the seasonal-naive forecast
    k: int | None = None  # walk-forward: targets predicted between two retrainings (None: about 6 folds)
    scheme: str = "expanding"  # walk-forward training window: "expanding" or "sliding"
    slide: int | None = None  # sliding: the latest this many windows (None: as many as the first fold has)
    test_fraction: float = 0.2  # share of the targets in the test period (the last ones)
    hidden: int = 24  # GRU hidden units H
    channels: int = 16  # TCN channels
    fit_steps: int = 500  # training steps of the holdout fit (and of every random-split fold model)
    fold_steps: int = 60  # walk-forward: steps of retraining per fold (warm start)
    random_folds: int = 5  # K of the random split
    batch_size: int = 32
    lr: float = 1e-2
    seed: int = 0  # models, batches and the random split


PRESETS = {  # seqviz.devices picks: the GPU preset trains bigger models longer
    "cpu": dict(hidden=24, channels=16, fit_steps=500, fold_steps=60),
    "cuda": dict(hidden=64, channels=32, fit_steps=1500, fold_steps=200),
}


def preset_config(device: torch.device | str, **overrides) -> ForecastConfig:
    kind = "cuda" if torch.device(device).type == "cuda" else "cpu"
    return ForecastConfig(**{**PRESETS[kind], **overrides})


# -- pure pieces (tests compare each with an independent computation) ------------------------
def fit_ar(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least squares for y ~ c + X a: returns (w + 1,) = [c, a_1..a_w] with a_j the weight of
    column j of X (oldest lag first)."""
    A = np.hstack([np.ones((len(X), 1)), np.asarray(X, dtype=float)])  # (N, w + 1)
    coef, *_ = np.linalg.lstsq(A, np.asarray(y, dtype=float), rcond=None)
    return coef


def ar_predict(coef: np.ndarray, X: np.ndarray) -> np.ndarray:
    return coef[0] + np.asarray(X, dtype=float) @ coef[1:]


@dataclass(frozen=True)
class Fold:
    train: np.ndarray  # window indices trained on
    test: np.ndarray  # window indices predicted


def walk_forward_folds(n_windows: int, first_test: int, k: int, scheme: str = "expanding",
                       slide: int | None = None) -> list[Fold]:
    """Folds over windows ``first_test..n_windows-1``, k at a time; fold f trains on every window
    before its first one (expanding) or on the latest ``slide`` of them (sliding)."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, not {scheme!r}")
    k = max(1, int(k))
    slide = first_test if slide is None else max(1, int(slide))
    folds = []
    for s in range(first_test, n_windows, k):
        lo = 0 if scheme == "expanding" else max(0, s - slide)
        folds.append(Fold(np.arange(lo, s), np.arange(s, min(s + k, n_windows))))
    return folds


def random_split_folds(n_windows: int, first_test: int, n_folds: int, seed: int) -> list[Fold]:
    """K-fold cross-validation over shuffled windows: fold f holds out every K-th window of a
    seeded permutation and trains on all the others (past and future alike); its test part is
    the held-out windows that lie in the test period (each such window is in exactly one fold)."""
    perm = np.random.default_rng(int(seed)).permutation(n_windows)
    folds = []
    for f in range(int(n_folds)):
        held = np.zeros(n_windows, dtype=bool)
        held[perm[f::n_folds]] = True
        test = np.flatnonzero(held & (np.arange(n_windows) >= first_test))
        folds.append(Fold(np.flatnonzero(~held), test))
    return folds


def recursive(step_fn, history: np.ndarray, origins: np.ndarray, horizon: int, lookback: int) -> np.ndarray:
    """Free-running forecasts: from each origin o, predict x_o from the true x_(o-lookback)..x_(o-1),
    then x_(o+1) from that buffer shifted by one with the prediction appended, and so on.
    ``step_fn(buf (N, lookback)) -> (N,)``. Returns (N, horizon); horizon 1 is the one-step forecast."""
    o = np.asarray(origins, dtype=int)
    buf = np.stack([history[i - lookback:i] for i in o]) if len(o) else np.zeros((0, lookback))
    out = np.zeros((len(o), int(horizon)))
    for h in range(int(horizon)):
        p = np.asarray(step_fn(buf), dtype=float)
        out[:, h] = p
        buf = np.concatenate([buf[:, 1:], p[:, None]], axis=1)
    return out


def rmse(err) -> float:
    e = np.asarray(err, dtype=float)
    e = e[np.isfinite(e)]
    return float(np.sqrt(np.mean(e ** 2))) if len(e) else float("nan")


def tcn_dilations(w: int, kernel_size: int = 3) -> tuple[int, ...]:
    """Doubling dilations, as few blocks as let the TCN see the whole window."""
    d = [1]
    while receptive_field(kernel_size, d) < w:
        d.append(2 * d[-1])
    return tuple(d)


def minimum_length(w: int, m: int, test_fraction: float = 0.2) -> int:
    """Shortest series the set-up accepts: enough training windows to fit the AR (w + 2) and two test targets."""
    t0 = max(w, m)
    n = t0 + w + 4
    while True:
        N = n - t0
        n_test = max(2, int(round(N * test_fraction)))
        if N - n_test >= w + 2:
            return n
        n += 1


# -- the experiment -----------------------------------------------------------------------
@dataclass
class Results:
    """Per method, predictions (raw units) for each test-period window; NaN = not predicted yet."""

    pred: dict[str, np.ndarray] = field(default_factory=dict)

    def rmse(self, y: np.ndarray) -> dict[str, float]:
        return {k: rmse(p - y) for k, p in self.pred.items()}


class Forecast:
    """One series, one window width, every method, three validations. See the module docstring."""

    def __init__(self, series: Series, cfg: ForecastConfig | None = None, device: torch.device | str = "cpu"):
        cfg = self.cfg = copy.copy(cfg or ForecastConfig())
        self.series, self.device = series, torch.device(device)
        v = series.values
        w, m = int(cfg.w), int(cfg.m)
        n = len(v)
        need = minimum_length(w, m, cfg.test_fraction)
        if n < need:
            raise SeriesError(f"This series has {n} values; with window w = {w} and season m = {m} it needs at "
                              f"least {need}. Lower w or m, or use a longer series.")
        self.w, self.m, self.t0 = w, m, max(w, m)
        N = n - self.t0
        self.n_test = max(2, int(round(N * cfg.test_fraction)))
        self.j_test = N - self.n_test  # first test window
        self.test_start = self.t0 + self.j_test  # its target index
        self.norm = Normaliser.fit(v[: self.test_start])  # training part only
        self.z = self.norm.apply(v)
        self.X, self.y, self.t = windows(self.z, w, self.t0)  # (N, w), (N,), (N,), normalised
        self.y_raw = v[self.t]
        self.lock = threading.RLock()
        k = cfg.k if cfg.k else math.ceil(self.n_test / 6)
        self.k = max(int(k), math.ceil(self.n_test / MAX_FOLDS))
        self.wf_folds = walk_forward_folds(N, self.j_test, self.k, cfg.scheme, cfg.slide)
        self.rs_folds = random_split_folds(N, self.j_test, cfg.random_folds, cfg.seed)
        # the baselines and the AR, at once
        test = slice(self.j_test, N)
        base = {"persistence": self.X[:, -1], "seasonal": self.z[self.t - m]}
        self.ar_coef = fit_ar(self.X[: self.j_test], self.y[: self.j_test])
        self.holdout, self.walk, self.shuffled = Results(), Results(), Results()
        for r in (self.holdout, self.walk, self.shuffled):
            for k_ in METHODS:
                r.pred[k_] = np.full(self.n_test, np.nan)
            for k_, p in base.items():
                r.pred[k_] = self.norm.invert(p[test])
        self.holdout.pred["ar"] = self.norm.invert(ar_predict(self.ar_coef, self.X[test]))
        for fold in self.wf_folds:
            c = fit_ar(self.X[fold.train], self.y[fold.train])
            self.walk.pred["ar"][fold.test - self.j_test] = self.norm.invert(ar_predict(c, self.X[fold.test]))
        for fold in self.rs_folds:
            c = fit_ar(self.X[fold.train], self.y[fold.train])
            self.shuffled.pred["ar"][fold.test - self.j_test] = self.norm.invert(ar_predict(c, self.X[fold.test]))
        # the neural nets
        self.Xt = torch.tensor(self.X, dtype=torch.float32, device=self.device).unsqueeze(-1)  # (N, w, 1)
        self.yt = torch.tensor(self.y, dtype=torch.float32, device=self.device)  # (N,)
        self.models = {k_: self._build(k_, cfg.seed) for k_ in NEURAL}
        tc = TrainConfig(batch_size=cfg.batch_size, lr=cfg.lr, seed=cfg.seed)
        self._pool = torch.arange(self.j_test, device=self.device)
        self.fit = Run(self.models, self._batches(lambda: self._pool), self._loss, tc)
        self.walk_run: Run | None = None
        self.random_run: Run | None = None
        self.phase = "fit"  # "fit" -> "walk" -> "random" -> "done"
        self.fold = 0  # walk-forward fold being trained
        self._fold_step = 0
        self.steps = 0
        self.phase_start = {"fit": 0}  # global step at which each phase began

    # -- models and batches ------------------------------------------------------------------
    def _build(self, kind: str, seed: int):
        cfg = self.cfg
        if kind == "gru":
            return build_recurrent(RecurrentConfig(cell="gru", n_in=1, hidden=cfg.hidden, n_out=1), seed, self.device)
        return build_tcn(TCNConfig(n_in=1, n_out=1, channels=cfg.channels, kernel_size=3,
                                   dilations=tcn_dilations(self.w)), seed, self.device)

    def _batches(self, pool_fn):
        B = self.cfg.batch_size

        def batch_fn(gen):
            pool = pool_fn()
            i = pool[torch.randint(len(pool), (B,), generator=gen).to(pool.device)]
            return self.Xt[i], self.yt[i]  # (B, w, 1), (B,)

        return batch_fn

    @staticmethod
    def _loss(model, batch):
        x, y = batch
        return F.mse_loss(model(x)[:, -1, 0], y), {}

    @torch.no_grad()
    def _predict(self, model, X: torch.Tensor) -> np.ndarray:
        """Normalised one-step forecasts of ``model`` for windows X (N, w, 1)."""
        was = model.training
        model.eval()
        try:
            return model(X)[:, -1, 0].double().cpu().numpy()
        finally:
            model.train(was)

    # -- training -----------------------------------------------------------------------------
    def step(self) -> int:
        """One training step of the current phase; raises ``Finished`` when every phase is done."""
        with self.lock:
            if self.phase == "fit":
                self.fit.step()
                if self.fit.steps >= self.cfg.fit_steps:
                    self._begin_walk()
            elif self.phase == "walk":
                self.walk_run.step()
                self._fold_step += 1
                if self._fold_step >= self.cfg.fold_steps:
                    self._end_fold()
            elif self.phase == "random":
                self.random_run.step()
                if self.random_run.steps >= self.cfg.fit_steps:
                    self._end_random()
            if self.phase == "done":
                raise Finished("every phase is done")
            self.steps += 1
            return self.steps

    def _begin_walk(self) -> None:
        self.phase, self.phase_start["walk"] = "walk", self.steps + 1
        self.walk_models = {k: copy.deepcopy(m) for k, m in self.models.items()}  # warm start from the fit
        tc = TrainConfig(batch_size=self.cfg.batch_size, lr=self.cfg.lr, seed=self.cfg.seed + 1)
        self.walk_run = Run(self.walk_models, self._batches(lambda: self._wf_pool), self._loss, tc)
        self.fold, self._fold_step = 0, 0
        self._wf_pool = torch.as_tensor(self.wf_folds[0].train, device=self.device)

    def _end_fold(self) -> None:
        fold = self.wf_folds[self.fold]
        X = self.Xt[torch.as_tensor(fold.test, device=self.device)]
        with self.walk_run.lock:
            for k, m in self.walk_models.items():
                self.walk.pred[k][fold.test - self.j_test] = self.norm.invert(self._predict(m, X))
        self.fold += 1
        self._fold_step = 0
        if self.fold < len(self.wf_folds):
            self._wf_pool = torch.as_tensor(self.wf_folds[self.fold].train, device=self.device)
        elif self.random_done:  # (walked again after new folds: the random split stands)
            self.phase = "done"
        else:
            self._begin_random()

    def set_walk(self, k: int | None, scheme: str, slide: int | None) -> None:
        """New walk-forward folds (k targets each, expanding or sliding): the AR's forecasts at once;
        the GRU's and TCN's walk forward again from their holdout fit at the next training step
        (the random split, if done, is kept)."""
        with self.lock:
            cfg = self.cfg
            cfg.k, cfg.scheme, cfg.slide = k, scheme, slide
            k = k if k else math.ceil(self.n_test / 6)
            self.k = max(int(k), math.ceil(self.n_test / MAX_FOLDS))
            self.wf_folds = walk_forward_folds(len(self.t), self.j_test, self.k, scheme, slide)
            self.walk.pred["ar"] = np.full(self.n_test, np.nan)
            for fold in self.wf_folds:
                c = fit_ar(self.X[fold.train], self.y[fold.train])
                self.walk.pred["ar"][fold.test - self.j_test] = self.norm.invert(ar_predict(c, self.X[fold.test]))
            for name in NEURAL:
                self.walk.pred[name] = np.full(self.n_test, np.nan)
            if self.phase != "fit":
                self._begin_walk()

    @property
    def random_done(self) -> bool:
        return not any(np.isnan(self.shuffled.pred[k]).any() for k in NEURAL)

    def _begin_random(self) -> None:
        self.phase, self.phase_start["random"] = "random", self.steps + 1
        K = len(self.rs_folds)
        self.random_models = {f"{k}_{f}": self._build(k, self.cfg.seed) for f in range(K) for k in NEURAL}
        pools = [torch.as_tensor(f.train, device=self.device) for f in self.rs_folds]
        fold_of = {id(m): int(name.rsplit("_", 1)[1]) for name, m in self.random_models.items()}
        B = self.cfg.batch_size

        def batch_fn(gen):
            out = []
            for pool in pools:
                i = pool[torch.randint(len(pool), (B,), generator=gen).to(pool.device)]
                out.append((self.Xt[i], self.yt[i]))
            return out

        def loss_fn(model, batch):
            return self._loss(model, batch[fold_of[id(model)]])

        tc = TrainConfig(batch_size=B, lr=self.cfg.lr, seed=self.cfg.seed + 2)
        self.random_run = Run(self.random_models, batch_fn, loss_fn, tc)

    def _end_random(self) -> None:
        with self.random_run.lock:
            for name, m in self.random_models.items():
                kind, f = name.rsplit("_", 1)
                fold = self.rs_folds[int(f)]
                if len(fold.test):
                    X = self.Xt[torch.as_tensor(fold.test, device=self.device)]
                    self.shuffled.pred[kind][fold.test - self.j_test] = self.norm.invert(self._predict(m, X))
        self.phase = "done"

    # -- what the dashboard reads -----------------------------------------------------------
    @property
    def trained(self) -> bool:
        return self.fit.steps > 0

    def holdout_predictions(self) -> dict[str, np.ndarray]:
        """Raw-unit one-step forecasts over the test period; the GRU and TCN as they are now."""
        out = dict(self.holdout.pred)
        X = self.Xt[self.j_test:]
        with self.fit.lock:
            for k, m in self.models.items():
                out[k] = self.norm.invert(self._predict(m, X))
        return out

    def step_fns(self) -> dict:
        """Per method, ``buf (N, t0) -> (N,)`` in normalised units (for ``recursive``)."""
        w, m, coef = self.w, self.m, self.ar_coef
        fns = {"persistence": lambda b: b[:, -1], "seasonal": lambda b: b[:, -m],
               "ar": lambda b: ar_predict(coef, b[:, -w:])}
        for k, model in self.models.items():
            def nn_fn(b, model=model):
                x = torch.tensor(b[:, -w:], dtype=torch.float32, device=self.device).unsqueeze(-1)
                return self._predict(model, x)
            fns[k] = nn_fn
        return fns

    def forecast_from(self, origin: int, horizon: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Free-running forecasts from target index ``origin`` (clipped to the series):
        method -> (target indices, raw values)."""
        o = int(min(max(origin, self.t0), len(self.z) - 1))
        H = int(max(1, min(horizon, len(self.z) - o)))
        idx = np.arange(o, o + H)
        with self.fit.lock:
            return {k: (idx, self.norm.invert(recursive(fn, self.z, [o], H, self.t0)[0]))
                    for k, fn in self.step_fns().items()}

    def horizon_origins(self, horizon: int) -> np.ndarray:
        """Test-period origins whose ``horizon`` forecasts all lie in the series, at most
        ``MAX_ORIGINS`` of them, evenly spread (a projector-speed view of a long series)."""
        H = int(max(1, min(horizon, self.n_test)))
        origins = self.t[self.j_test: len(self.t) - H + 1]
        if len(origins) > MAX_ORIGINS:
            origins = origins[np.unique(np.linspace(0, len(origins) - 1, MAX_ORIGINS).round().astype(int))]
        return origins

    def horizon_errors(self, horizon: int) -> dict[str, dict[str, np.ndarray]]:
        """RMSE (raw units) against the horizon h = 1..H over the test-period origins of
        ``horizon_origins``: ``free`` (fed its own predictions) and ``forced`` (teacher forcing:
        every forecast from the true past, i.e. the one-step error at that target)."""
        H = int(max(1, min(horizon, self.n_test)))
        origins = self.horizon_origins(H)
        out = {}
        with self.fit.lock:
            for k, fn in self.step_fns().items():
                free = recursive(fn, self.z, origins, H, self.t0)  # (N_o, H)
                truth = np.stack([self.z[o:o + H] for o in origins])  # (N_o, H)
                tf = (origins[:, None] + np.arange(H)).ravel()  # every target a forecast is for
                one = fn(np.stack([self.z[t - self.t0:t] for t in tf]))  # one-step: from the true past
                forced = one.reshape(len(origins), H)
                out[k] = {"free": np.sqrt(np.mean((free - truth) ** 2, axis=0)) * self.norm.std,
                          "forced": np.sqrt(np.mean((forced - truth) ** 2, axis=0)) * self.norm.std}
        return out

    @property
    def max_horizon(self) -> int:
        return int(max(1, min(MAX_HORIZON, self.n_test // 2)))

    def scores(self) -> dict[str, dict[str, float]]:
        """RMSE on the test period, raw units: method -> {"holdout", "walk", "random"} (NaN: not yet)."""
        y = self.y_raw[self.j_test:]
        hold = Results(self.holdout_predictions()).rmse(y)
        walk = self.walk.rmse(y)
        rnd = self.shuffled.rmse(y)
        for k in NEURAL:  # a partial walk-forward or random score would cover another period: only complete ones
            if np.isnan(self.walk.pred[k]).any():
                walk[k] = float("nan")
            if np.isnan(self.shuffled.pred[k]).any():
                rnd[k] = float("nan")
        return {k: {"holdout": hold[k], "walk": walk[k], "random": rnd[k]} for k in METHODS}

    def progress(self) -> str:
        """Where training is, in words."""
        c = self.cfg
        if self.phase == "fit":
            return f"fitting on the training part: step {self.fit.steps} of {c.fit_steps}"
        if self.phase == "walk":
            return (f"walking forward: fold {self.fold + 1} of {len(self.wf_folds)}, step {self._fold_step} of "
                    f"{c.fold_steps}")
        if self.phase == "random":
            return (f"random split: {len(self.rs_folds)} fold models per network, step {self.random_run.steps} of "
                    f"{c.fit_steps}")
        return "done"

    def with_config(self, **changes) -> ForecastConfig:
        return replace(self.cfg, **changes)
