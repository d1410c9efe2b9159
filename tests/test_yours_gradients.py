"""seqviz.yours.gradients (per-step ||dL/dh_t|| of a student's own module) and its dashboard,
widgets.gradient_flow.yours, in plain pytest.

The references are independent of the probe: the same weights stepped by nn.LSTMCell / nn.GRUCell /
nn.RNNCell in an explicit Python loop, with retain_grad() on every h_t and c_t (float64)."""

import numpy as np
import pytest
import torch
from torch import nn

from seqviz.yours.fit import DoesNotFit
from seqviz.yours.gradients import mark, probe_gradients

LAYERS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
CELLS = {"lstm": nn.LSTMCell, "gru": nn.GRUCell, "rnn": nn.RNNCell}


class Student(nn.Module):
    """A student-style model: a recurrent layer and a linear read-out of the last step."""

    def __init__(self, cell="lstm", D=2, H=6, layers=1, batch_first=True, bidirectional=False, every_step=False,
                 **kw):
        super().__init__()
        self.batch_first, self.every_step = batch_first, every_step
        self.rnn = LAYERS[cell](D, H, num_layers=layers, batch_first=batch_first, bidirectional=bidirectional, **kw)
        self.head = nn.Linear(H * (2 if bidirectional else 1), 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        if self.every_step:
            return self.head(out)  # (B, T, 1) or (T, B, 1)
        return self.head(out[:, -1] if self.batch_first else out[-1])  # (B, 1)


def batch(B=5, T=12, D=2, seed=0, batch_first=True):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, D, generator=g)
    y = torch.randn(B, 1, generator=g)
    return (x if batch_first else x.transpose(0, 1).contiguous()), y


def seeded(cls, *a, seed=0, **kw):
    torch.manual_seed(seed)
    return cls(*a, **kw)


def _cell(kind, layer, k, d, dtype=torch.float64):
    """nn.LSTMCell / GRUCell / RNNCell holding ``layer``'s weights of stack layer k, direction d."""
    sfx = f"_l{k}{'_reverse' if d else ''}"
    w_ih = getattr(layer, "weight_ih" + sfx)
    kw = {"nonlinearity": layer.nonlinearity} if kind == "rnn" else {}
    cell = CELLS[kind](w_ih.shape[1], layer.hidden_size, **kw).to(dtype)
    with torch.no_grad():
        for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, n).copy_(getattr(layer, n + sfx))
    return cell


def reference(model: Student, x, y, kind, probe_layer=None):
    """(||dL/dh_t||, ||dL/dc_t|| or None) of the forward direction of ``probe_layer`` (default: the
    last), by retain_grad on an explicit unroll over nn.*Cell with the model's weights, in float64."""
    layer = model.rnn
    L, D = layer.num_layers, 2 if layer.bidirectional else 1
    k_probe = L - 1 if probe_layer is None else probe_layer
    xs = (x if model.batch_first else x.transpose(0, 1)).double()  # (B, T, D)
    B, T = xs.shape[:2]
    H = layer.hidden_size
    seq = list(xs.unbind(1))
    kept_h, kept_c = [], []
    for k in range(L):
        dirs = []
        for d in range(D):
            cell = _cell(kind, layer, k, d)
            h, c = torch.zeros(B, H, dtype=torch.float64), torch.zeros(B, H, dtype=torch.float64)
            outs = [None] * T
            for t in (range(T - 1, -1, -1) if d else range(T)):
                if kind == "lstm":
                    h, c = cell(seq[t], (h, c))
                else:
                    h = cell(seq[t], h)
                if k == k_probe and d == 0:
                    h.retain_grad()
                    kept_h.append(h)
                    if kind == "lstm":
                        c.retain_grad()
                        kept_c.append(c)
                outs[t] = h
            dirs.append(outs)
        seq = [torch.cat([dd[t] for dd in dirs], dim=-1) for t in range(T)]
    head = nn.Linear(model.head.in_features, 1).double()
    head.load_state_dict(model.head.state_dict())
    if model.every_step:
        out = head(torch.stack(seq, 1))
        if not model.batch_first:
            out = out.transpose(0, 1)
    else:
        out = head(seq[-1])
    loss = nn.functional.mse_loss(out, y.double() if not model.every_step else y.double())
    loss.backward()
    hn = np.array([h.grad.norm().item() for h in kept_h])
    cn = np.array([c.grad.norm().item() for c in kept_c]) if kept_c else None
    return hn, cn, float(loss.detach())


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("batch_first", [True, False])
def test_layer_norms_equal_retain_grad_on_an_explicit_unroll(kind, batch_first):
    model = seeded(Student, kind, batch_first=batch_first)
    x, y = batch(batch_first=batch_first)
    g = probe_gradients(model, x, y)
    hn, cn, loss = reference(model, x, y, kind)
    np.testing.assert_allclose(g.h_norms, hn, rtol=1e-9, atol=1e-300)
    assert g.loss == pytest.approx(loss, rel=1e-9)
    assert g.kind == kind and g.dtype == "float64" and g.T == x.shape[1 if batch_first else 0]
    assert g.max_output_diff < 1e-12  # the recomputed layer output is the fused one (float64 copy)
    if kind == "lstm":
        np.testing.assert_allclose(g.c_norms, cn, rtol=1e-9, atol=1e-300)
    else:
        assert g.c_norms is None
    assert g.ratio == pytest.approx(hn[0] / hn[-1])


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_two_layer_stack_probes_the_last_layer_or_the_one_chosen(kind):
    model = seeded(Student, kind, layers=2)
    x, y = batch()
    for k in (None, 0):
        g = probe_gradients(model, x, y, stack_layer=k)
        hn, cn, _ = reference(model, x, y, kind, probe_layer=k)
        np.testing.assert_allclose(g.h_norms, hn, rtol=1e-9)
        assert f"layer {2 if k is None else 1} of 2" in g.where
    with pytest.raises(DoesNotFit, match="stack_layer=5"):
        probe_gradients(model, x, y, stack_layer=5)


def test_relu_rnn_loss_at_every_step_and_bidirectional_forward_direction():
    model = seeded(Student, "rnn", nonlinearity="relu", every_step=True)
    x, y1 = batch()
    y = torch.randn(5, 12, 1)
    g = probe_gradients(model, x, y)
    np.testing.assert_allclose(g.h_norms, reference(model, x, y, "rnn")[0], rtol=1e-9)
    bi = seeded(Student, "lstm", bidirectional=True, layers=2)
    g = probe_gradients(bi, x, y1)
    hn, cn, _ = reference(bi, x, y1, "lstm")
    np.testing.assert_allclose(g.h_norms, hn, rtol=1e-9)
    np.testing.assert_allclose(g.c_norms, cn, rtol=1e-9)
    assert "forward direction" in g.where


def test_float32_probe_agrees_and_float64_keeps_what_float32_rounds_to_zero():
    model = seeded(Student, "rnn", H=8)
    with torch.no_grad():
        model.rnn.weight_hh_l0.mul_(0.3)  # a fast-fading recurrence (about 1e-90 at t = 0)
    x, y = batch(T=120)
    g32 = probe_gradients(model, x, y, dtype=None)
    g64 = probe_gradients(model, x, y)
    assert g32.dtype == "float32" and g64.dtype == "float64"
    np.testing.assert_allclose(g32.h_norms[-5:], g64.h_norms[-5:], rtol=1e-4)
    assert g32.h_norms[0] == 0.0 and g64.h_norms[0] > 0.0  # float32 underflows, float64 does not


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_the_hook_leaves_the_fused_output_unchanged(kind):
    from seqviz.yours.gradients import _LayerProbe

    for layers, bf, bi in ((1, True, False), (2, False, True)):
        torch.manual_seed(1)
        layer = LAYERS[kind](3, 5, num_layers=layers, batch_first=bf, bidirectional=bi)
        x = torch.randn(4, 9, 3)
        h0 = torch.randn(layers * (2 if bi else 1), 4 if bf else 9, 5)
        hx = (h0, torch.randn_like(h0)) if kind == "lstm" else h0
        probe = _LayerProbe(layer, None)
        for args in ((x,), (x, hx)):
            fused = layer(*args)
            mine = probe.recompute(*args)
            flat = lambda o: [o[0], *(o[1] if isinstance(o[1], tuple) else (o[1],))]  # noqa: E731
            for a, b in zip(flat(fused), flat(mine)):
                torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)
    lstm = nn.LSTM(3, 5, proj_size=2)
    x = torch.randn(7, 3)  # unbatched
    for a, b in zip((lstm(x)[0], *lstm(x)[1]), (_LayerProbe(lstm, None).recompute(x, None)[0],
                                                *_LayerProbe(lstm, None).recompute(x, None)[1])):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)


def test_a_user_given_initial_state_reaches_the_recomputation():
    class WithState(Student):
        def forward(self, x):
            h0 = torch.full((1, x.shape[0], 6), 0.3, dtype=x.dtype)
            out, _ = self.rnn(x, (h0, h0.clone()))
            return self.head(out[:, -1])

    model = seeded(WithState, "lstm")
    x, y = batch()
    g = probe_gradients(model, x, y, dtype=None)
    assert g.max_output_diff < 1e-5
    # reference: the same explicit unroll, started from 0.3
    cell = _cell("lstm", model.rnn, 0, 0, torch.float32)
    h = c = torch.full((5, 6), 0.3)
    kept = []
    for t in range(12):
        h, c = cell(x[:, t], (h, c))
        h.retain_grad()
        kept.append(h)
    nn.functional.mse_loss(model.head(h), y).backward()
    np.testing.assert_allclose(g.h_norms, [k.grad.norm().item() for k in kept], rtol=1e-4)


class MyCell(nn.Module):
    """A hand-written Elman cell looped in Python, marking h_t (and a leaky 'c_t')."""

    def __init__(self, D=2, H=6, use_mark=True):
        super().__init__()
        self.H, self.use_mark = H, use_mark
        self.Wx, self.Wh = nn.Linear(D, H), nn.Linear(H, H, bias=False)
        self.head = nn.Linear(H, 1)
        self.keep = None  # the test's retain_grad reference: a list to keep every h_t and c_t in

    def forward(self, x):
        h = x.new_zeros(x.shape[0], self.H)
        c = x.new_zeros(x.shape[0], self.H)
        for t in range(x.shape[1]):
            c = 0.9 * c + 0.1 * torch.tanh(self.Wx(x[:, t]))
            if self.use_mark:
                c = mark(c, kind="c")
            h = torch.tanh(self.Wh(h) + c)
            if self.use_mark:
                h = mark(h)
            if self.keep is not None:
                h.retain_grad()
                c.retain_grad()
                self.keep.append((h, c))
        return self.head(h)


def test_mark_in_a_hand_written_cell_equals_retain_grad_on_the_same_graph():
    model = seeded(MyCell)
    x, y = batch()
    g = probe_gradients(model, x, y)
    ref = seeded(MyCell).double()
    ref.keep = []
    nn.functional.mse_loss(ref(x.double()), y.double()).backward()
    np.testing.assert_allclose(g.h_norms, [h.grad.norm().item() for h, _ in ref.keep], rtol=1e-9)
    np.testing.assert_allclose(g.c_norms, [c.grad.norm().item() for _, c in ref.keep], rtol=1e-9)
    assert g.kind == "marks" and g.dtype == "float64"
    # outside a probe mark() is the identity: the same tensor back
    h = torch.randn(3, 4)
    assert mark(h) is h


def test_marks_win_over_a_recurrent_layer():
    class Both(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.GRU(2, 4, batch_first=True)
            self.head = nn.Linear(4, 1)

        def forward(self, x):
            out, _ = self.rnn(x)
            h = None
            for t in range(0, x.shape[1], 2):  # every other step marked: 6 marks, not 12 steps
                h = mark(out[:, t])
            return self.head(h)

    g = probe_gradients(seeded(Both), *batch())
    assert g.kind == "marks" and g.T == 6


def test_a_float32_only_cell_is_probed_in_its_own_dtype():
    class Float32Cell(MyCell):
        def forward(self, x):
            h = torch.zeros(x.shape[0], self.H)  # float32 whatever x is: cannot run in float64
            for t in range(x.shape[1]):
                h = mark(torch.tanh(self.Wx(x[:, t].float()) + self.Wh(h)))
            return self.head(h)

    g = probe_gradients(seeded(Float32Cell), *batch())
    assert g.dtype == "float32" and g.T == 12 and np.all(g.h_norms > 0)


def hooks(module):
    return [(n, len(m._forward_hooks), len(m._forward_pre_hooks), len(getattr(m, "_forward_hooks_with_kwargs", {})))
            for n, m in module.named_modules() if m._forward_hooks or m._forward_pre_hooks]


@pytest.mark.parametrize("dtype", [None, torch.float64])
@pytest.mark.parametrize("raises", [False, True])
def test_everything_restored_after_the_probe_also_when_the_forward_raises(dtype, raises):
    class Raises(Student):
        def forward(self, x):
            out = super().forward(x)
            if raises:
                raise RuntimeError("shapes do not match\nsecond line")
            return out

    model = seeded(Raises, "lstm")
    x, y = batch()
    model.train()
    grads = {}
    for n, p in model.named_parameters():
        p.grad = torch.full_like(p, 7.0)
        grads[n] = p.grad
    before = {k: v.clone() for k, v in model.state_dict().items()}
    if raises:
        with pytest.raises(DoesNotFit) as e:
            probe_gradients(model, x, y, dtype=dtype)
        assert str(e.value) == "Your model's forward raised RuntimeError: shapes do not match."
    else:
        probe_gradients(model, x, y, dtype=dtype)
    assert hooks(model) == [] and model.training
    for n, p in model.named_parameters():
        assert p.grad is grads[n] and torch.equal(p.grad, torch.full_like(p, 7.0))
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]) and v.dtype == torch.float32
    from seqviz.yours import gradients as yg
    assert getattr(yg._ACTIVE, "recorder", None) is None
    model.eval()
    probe_gradients(model, x, y, dtype=dtype) if not raises else None
    assert not model.training


def test_misfits_get_one_sentence():
    x, y = batch()

    def said(*a, **kw):
        with pytest.raises(DoesNotFit) as e:
            probe_gradients(*a, **kw)
        s = str(e.value)
        assert "\n" not in s and "Traceback" not in s
        return s

    assert said("lstm", x, y) == "This view needs a torch.nn.Module; it was given a str."
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(24, 10))
    assert said(mlp, x, y).startswith(
        "This module returns a tensor of shape (5, 10) and has no nn.RNN/nn.LSTM/nn.GRU and no mark() calls; "
        "the gradient-flow view needs the hidden state at every step: an nn.RNN/nn.LSTM/nn.GRU inside the module, "
        "or mark(h_t) in your cell's loop")

    class Tuple(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(2, 4, batch_first=True)

        def forward(self, x):
            return self.lstm(x)

    s = said(Tuple(), x, y)
    assert s.startswith("This module returns a tuple of 2: a tensor of shape (5, 12, 4) and a tuple of 2; the view "
                        "needs one tensor of outputs.") and "out, _ = self.lstm(x)" in s
    s = said(seeded(Student, "lstm", every_step=True), x, y)  # (5, 12, 1) against y (5, 1)
    assert "(5, 12, 1)" in s and "(5, 1)" in s and "Pass loss_fn=" in s
    assert "loss_fn(output, y) raised" in said(seeded(Student), x, y, loss_fn=nn.functional.nll_loss)
    meta_x = torch.empty(5, 12, 2, device="meta")
    assert said(seeded(Student), meta_x, y) == ("This module is on cpu but the probe batch are on meta; move one of "
                                                 "them, e.g. model.to('meta') or x.to('cpu').")
    assert "'meta' device" in said(seeded(Student).to("meta"), x, y)
    packed = nn.utils.rnn.pack_padded_sequence(x, torch.full((5,), 12), batch_first=True)
    assert said(seeded(Student), packed, y).startswith("x is a PackedSequence;")

    class Packs(Student):
        def forward(self, x):
            out, _ = self.rnn(nn.utils.rnn.pack_padded_sequence(x, torch.full((x.shape[0],), x.shape[1]),
                                                                batch_first=True))
            out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
            return self.head(out[:, -1])

    assert said(seeded(Packs), x, y).startswith("Your forward packs its batch (a PackedSequence reaches the LSTM)")
    assert said(seeded(Student), x, y, layer="encoder") == \
        "There is no nn.RNN/nn.LSTM/nn.GRU called 'encoder' in this module (found: rnn)."

    class Unused(Student):
        def forward(self, x):
            return self.head(x[:, -1, :1].repeat(1, 6))

    assert "was not called by this module's forward" in said(seeded(Unused), x, y)

    class Doubled(nn.LSTM):  # a layer that computes something else than PyTorch's LSTM
        def forward(self, x, hx=None):
            out, state = super().forward(x, hx)
            return 2 * out, state

    odd = seeded(Student, "lstm")
    odd.rnn = Doubled(2, 6, batch_first=True)
    assert said(odd, x, y).startswith("The Doubled 'rnn' does not compute what PyTorch's own layer computes "
                                      "(outputs differ by")


# -- the dashboard: widgets.gradient_flow.yours ---------------------------------------------------------
def trace(d, tag):
    from tests.conftest import dashboard_trace

    return dashboard_trace(d, tag)


def arr(v):
    return np.array(v, dtype=float)


@pytest.fixture
def built():
    from widgets.gradient_flow import yours

    made = []

    def build(*a, **kw):
        d = yours(*a, **kw)
        made.append(d)
        return d

    yield build
    for d in made:
        if hasattr(d, "close_worker"):
            d.close_worker()


def test_yours_builds_with_the_probe_numbers_in_its_panes(built):
    from widgets.gradient_flow.yours import YourGradientFlow

    model = seeded(Student, "lstm")
    x, y = batch()
    d = built(model, (x, y))
    assert isinstance(d, YourGradientFlow)
    hn, cn, loss = reference(model, x, y, "lstm")
    np.testing.assert_allclose(arr(trace(d, "norm_h").y), hn, rtol=1e-9)
    np.testing.assert_allclose(arr(trace(d, "norm_c").y), cn, rtol=1e-9)
    np.testing.assert_allclose(arr(trace(d, "heat").z)[0], np.log10(hn), atol=0.006)  # rounded to 2 decimals
    assert f"{hn[0] / hn[-1]:.3g}" in d.readout.value and "||dL/dh<sub>11</sub>||" in d.readout.value
    assert [b.description for b in d.buttons.values()] == ["Train", "Pause", "One step", "Reset"]
    assert "mean of the last 20 steps" in d.panes["loss"].figure.layout.legend.title.text
    assert "Press Train" in d.status.value and "Traceback" not in d.status.value


def test_one_step_trains_and_redraws_from_the_new_weights_then_reset_restores(built):
    model = seeded(Student, "gru")
    x, y = batch()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    loss0 = float(nn.functional.mse_loss(model(x), y).detach())
    d = built(model, (x, y), optimizer=opt)
    assert d.state.lr == pytest.approx(0.1)  # the control starts at the optimizer's own rate
    d.buttons["step"].click()
    h = d.run.history["your model"]
    assert len(h) == 1 and h.loss[0] == pytest.approx(loss0, rel=1e-6)
    assert not torch.equal(model.rnn.weight_hh_l0, start["rnn.weight_hh_l0"])  # it trained
    hn, _, _ = reference(model, x, y, "gru")  # the panes show the weights after the update
    np.testing.assert_allclose(arr(trace(d, "norm_h").y), hn, rtol=1e-9)
    assert arr(trace(d, "heat").z).shape == (2, 12)  # before (step 0) and after one update
    np.testing.assert_allclose(arr(trace(d, "loss_raw").y), [loss0], rtol=1e-6)
    assert "after 1 update " in d.readout.value and "One step: 1 update made" in d.status.value
    assert opt.state  # momentum buffers exist
    d.c["lr"].value = 0.01
    d.c["clip_on"].value = True
    d.c["clip"].value = 0.5
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01) and d.run.cfg.clip == pytest.approx(0.5)
    d.buttons["step"].click()
    assert d.run.history["your model"].grad_norm_after[-1] <= 0.5 + 1e-6
    d.buttons["reset"].click()
    for k, v in model.state_dict().items():
        assert torch.equal(v, start[k])
    assert not opt.state and len(d.run.history["your model"]) == 0
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)  # the learning rate stays as set
    assert "back to what they were when yours() was called" in d.status.value
    np.testing.assert_allclose(arr(trace(d, "norm_h").y), reference(model, x, y, "gru")[0], rtol=1e-9)


def test_train_runs_in_the_worker_and_pause_stops_it(built):
    from tests.conftest import wait_for, workers_alive

    model = seeded(MyCell)  # a hand-written cell with mark()
    pairs = [batch(seed=i) for i in range(3)]
    d = built(model, pairs, probe_every=2)
    assert "your mark() calls" in d.children[0].children[0].value
    d.buttons["train"].click()
    assert wait_for(lambda: len(d.run.history["your model"].probes) >= 3, timeout=60)
    d.buttons["pause"].click()
    assert not workers_alive("seqviz-gradient-flow-yours") and not d.buttons["train"].disabled
    steps, rows = d.probe_rows()
    assert steps[:3] == [0, 2, 4] and len(arr(trace(d, "heat").z)) == len(steps)
    np.testing.assert_allclose(arr(trace(d, "norm_h").y), np.maximum(rows[-1].h_norms, 1e-40))
    # the History slider scrubs back: at its first snapshot (step 0) the untrained probe, no loss yet
    d.timeline.slider.value = 0
    np.testing.assert_allclose(arr(trace(d, "norm_h").y), np.maximum(rows[0].h_norms, 1e-40))
    assert len(trace(d, "loss").x) == 0 and len(arr(trace(d, "heat").z)) == 1 and "after 0 updates" in d.readout.value
    d.timeline.slider.value = d.timeline.slider.max
    np.testing.assert_allclose(arr(trace(d, "norm_h").y), np.maximum(rows[-1].h_norms, 1e-40))
    sizes = d.recorded_sizes()
    assert sizes["timeline"] <= 40 and sizes["probes"] <= 120


def test_voila_gets_the_note_and_a_misfit_one_sentence(built, monkeypatch):
    from widgets.kit.yours import VOILA_NOTE, NotFit

    x, y = batch()
    out = built(nn.Sequential(nn.Flatten(), nn.Linear(24, 1)), (x, y))
    assert isinstance(out, NotFit) and out.sentence.startswith("This module returns a tensor of shape (5, 1)")
    assert isinstance(built(seeded(Student), (x, y), lr=float("nan")), NotFit)
    assert built(seeded(Student), (x, y), probe_every=0).sentence.startswith("probe_every must be")
    assert built(seeded(Student), (x, y), optimizer="adam").sentence == \
        "optimizer must be a torch.optim optimizer; found a str."
    assert built(seeded(Student), (x, y), layer="decoder").sentence.startswith("There is no nn.RNN/nn.LSTM/nn.GRU")
    monkeypatch.setenv("VOILA_BASE_URL", "/")
    out = built(seeded(Student), (x, y))
    assert isinstance(out, NotFit) and out.sentence == VOILA_NOTE and out.level == "info"


def test_figure_builders_hold_the_numbers_they_are_given():
    from seqviz.figures import yours_gradflow as yf
    from seqviz.figures.patch import build
    from seqviz.training import History
    from seqviz.yours.gradients import YourGradients

    p = YourGradients(loss=0.5, h_norms=np.array([0.0, 1e-3, 2.0]), c_norms=None, kind="gru", where="rnn (GRU)",
                      dtype="float64")
    fig = build(yf.build_norms_figure("gru"), yf.norms_patch(p, 7, p.where))
    tr = {t.meta: t for t in fig.data}
    np.testing.assert_allclose(arr(tr["norm_h"].y), [1e-40, 1e-3, 2.0])  # an exact 0 at the floor
    assert tr["norm_c"].visible is False and "after 7 updates" in fig.layout.legend.title.text
    q = YourGradients(loss=0.4, h_norms=np.array([1.0, 10.0]), c_norms=np.array([3.0, 4.0]), kind="lstm", where="",
                      dtype="float64")
    heat = build(yf.build_heat_figure(), yf.heat_patch([p, q], [0, 10]))
    z = arr(heat.data[0].z)
    np.testing.assert_allclose(z[0], [-40, -3, np.log10(2.0)], atol=0.006)
    np.testing.assert_allclose(z[1, :2], [0, 1])
    assert np.isnan(z[1, 2])  # a shorter probe: a gap
    assert list(heat.data[0].y) == [0, 10] and list(heat.layout.yaxis.range) == [0, 10]
    h = History()
    for i, v in enumerate([4.0, 2.0, 1.0, -1.0]):
        h.add(i + 1, v, 0.0)
    lp = yf.loss_patch(h, window=2)
    np.testing.assert_allclose(lp["traces"]["loss"]["y"], [4.0, 3.0, 1.5, 0.0])
    assert lp["layout"]["yaxis"]["type"] == "linear"  # a negative loss: no log axis
    assert yf.loss_patch(h, window=2, upto=3)["layout"]["yaxis"]["type"] == "log"
    assert p.ratio == 0.0 and q.ratio == pytest.approx(0.1)


def test_log_axes_label_whole_decades_or_one_two_five():
    from seqviz.figures.yours_gradflow import log_dtick

    assert log_dtick([1e-40, 1.0]) == 7 and log_dtick([1e-5, 0.1]) == 1 and log_dtick([0.02, 0.1]) == "D2"
    assert log_dtick([0.0, np.nan]) == "D2"
