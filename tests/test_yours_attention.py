"""The attention view on a student's own model: the weights the hooks capture against
nn.MultiheadAttention's own (called directly with need_weights=True, average_attn_weights=False),
self- and cross-attention, masks, both layouts, inside nn.TransformerEncoder on its fast path and in
train mode, nn.Transformer; the model's output unchanged by the probe; hooks and the fast-path
setting restored (also when the forward raises); attention= checks; every misfit's sentence; the
widget (dropdowns, One step, Train/Pause, Reset, Voila, NotFit)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from seqviz.figures import yours_attention as fy
from seqviz.training import History
from seqviz.yours.attention import PASSED, capture_attention, check_attention, row_entropy, token_labels
from seqviz.yours.fit import DoesNotFit
from tests.conftest import wait_for, workers_alive
from widgets.attention import yours
from widgets.attention.yours import NAME, YoursAttentionDashboard
from widgets.kit.yours import VOILA_NOTE, NotFit

E, H = 16, 4


def causal(T):
    return torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)  # True: may not look


def no_hooks(model):
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


class SelfAtt(nn.Module):
    """A student's block: calls its MHA with need_weights=False (the fast, weightless call)."""

    def __init__(self, batch_first=True, positional=False):
        super().__init__()
        self.attn = nn.MultiheadAttention(E, H, batch_first=batch_first)
        self.positional = positional

    def forward(self, x, attn_mask=None, key_padding_mask=None):
        if self.positional:  # need_weights passed by position
            return self.attn(x, x, x, key_padding_mask, False, attn_mask)[0]
        return self.attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False)[0]


class AskAverage(nn.Module):
    """Uses the head-averaged weights MHA returns by default: the probe must still hand them over."""

    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(E, H, batch_first=True)

    def forward(self, x):
        out, w = self.attn(x, x, x)
        return out + w.sum(-1, keepdim=True)


class Cross(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(E, H, kdim=12, vdim=12, batch_first=True)

    def forward(self, q, kv):
        return self.attn(q, kv, kv, need_weights=False)[0]


def own_weights(mha, q, k, v, **kw):
    with torch.no_grad():
        return mha(q, k, v, need_weights=True, average_attn_weights=False, **kw)[1].double().numpy()


# -- the weights, against nn.MultiheadAttention's own ---------------------------------------------------
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("masks", ["none", "causal", "padding", "both"])
def test_self_attention_weights_equal_mhas_own(batch_first, masks):
    torch.manual_seed(0)
    m = SelfAtt(batch_first).eval()
    B, T = 3, 6
    x = torch.randn(B, T, E) if batch_first else torch.randn(T, B, E)
    kw = {}
    if masks in ("causal", "both"):
        kw["attn_mask"] = causal(T)
    if masks in ("padding", "both"):
        kw["key_padding_mask"] = torch.tensor([[False] * T, [False] * 4 + [True] * 2, [False] * 2 + [True] * 4])
    maps = capture_attention(m, (x,) if not kw else {"x": x, **kw})
    assert maps.names == ["attn"] and maps.self_attention["attn"]
    ref = own_weights(m.attn, x, x, x, **kw)
    np.testing.assert_allclose(maps.weights["attn"], ref, atol=1e-6)
    assert maps.weights["attn"].shape == (B, H, T, T)
    with torch.no_grad():
        plain = m(x, **kw)
    torch.testing.assert_close(maps.output, plain)  # the probe changes nothing the model computes
    assert no_hooks(m)


def test_positional_need_weights_and_averaged_weights_reach_the_caller_unchanged():
    torch.manual_seed(1)
    x = torch.randn(2, 5, E)
    m = SelfAtt(positional=True).eval()
    maps = capture_attention(m, x)
    np.testing.assert_allclose(maps.weights["attn"], own_weights(m.attn, x, x, x), atol=1e-6)
    with torch.no_grad():
        torch.testing.assert_close(maps.output, m(x))
    a = AskAverage().eval()
    maps = capture_attention(a, x)
    with torch.no_grad():
        torch.testing.assert_close(maps.output, a(x))  # it got the head average it asked for
    np.testing.assert_allclose(maps.weights["attn"], own_weights(a.attn, x, x, x), atol=1e-6)


def test_cross_attention_weights_equal_mhas_own():
    torch.manual_seed(2)
    m = Cross().eval()
    q, kv = torch.randn(2, 3, E), torch.randn(2, 7, 12)
    maps = capture_attention(m, (q, kv))
    assert maps.weights["attn"].shape == (2, H, 3, 7) and not maps.self_attention["attn"]
    np.testing.assert_allclose(maps.weights["attn"], own_weights(m.attn, q, kv, kv), atol=1e-6)
    with torch.no_grad():
        torch.testing.assert_close(maps.output, m(q, kv))


def test_unbatched_input_and_a_module_called_twice():
    torch.manual_seed(3)

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.MultiheadAttention(E, H)

        def forward(self, x):
            y = self.attn(x, x, x, need_weights=False)[0]
            return self.attn(y, y, y, need_weights=False)[0]

    m = Twice().eval()
    x = torch.randn(5, E)  # unbatched (T, E)
    maps = capture_attention(m, x)
    assert maps.names == ["attn", "attn (call 2)"]
    with torch.no_grad():
        y = m.attn(x, x, x)[0]
    np.testing.assert_allclose(maps.weights["attn"][0], own_weights(m.attn, x, x, x), atol=1e-6)
    np.testing.assert_allclose(maps.weights["attn (call 2)"][0], own_weights(m.attn, y, y, y), atol=1e-6)


def encoder(n_layers=2, seed=0):
    torch.manual_seed(seed)
    layer = nn.TransformerEncoderLayer(E, H, 32, dropout=0.0, batch_first=True)
    return nn.TransformerEncoder(layer, n_layers)


def reference_layers(enc, x, mask=None, kpm=None):
    """Each layer's per-head weights from its own self_attn, in train mode (dropout 0: no fast path)."""
    was = enc.training
    enc.train()
    out, h = [], x
    with torch.no_grad():
        for layer in enc.layers:
            out.append(own_weights(layer.self_attn, h, h, h, attn_mask=mask, key_padding_mask=kpm))
            h = layer(h, src_mask=mask, src_key_padding_mask=kpm)
    enc.train(was)
    return out, h


@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors")
@pytest.mark.parametrize("with_padding", [False, True])
def test_transformer_encoder_in_eval_mode_on_its_fast_path(monkeypatch, with_padding):
    enc = encoder().eval()
    B, T = 3, 6
    x = torch.randn(B, T, E)
    kpm = torch.tensor([[False] * T, [False] * 4 + [True] * 2, [False] * 5 + [True]]) if with_padding else None
    fused = []
    real = torch._transformer_encoder_layer_fwd
    monkeypatch.setattr(torch, "_transformer_encoder_layer_fwd", lambda *a, **k: fused.append(1) or real(*a, **k))
    with torch.no_grad():
        plain = enc(x, src_key_padding_mask=kpm)
    assert len(fused) == 2  # without the probe the layers run fused and never call self_attn's forward
    assert torch.backends.mha.get_fastpath_enabled()
    maps = capture_attention(enc, {"src": x, "src_key_padding_mask": kpm})
    assert len(fused) == 2  # the probe ran the layers' own Python forward
    assert maps.names == ["layers.0.self_attn", "layers.1.self_attn"]
    ref, _ = reference_layers(enc, x, kpm=kpm)
    for name, r in zip(maps.names, ref):
        np.testing.assert_allclose(maps.weights[name], r, atol=1e-5)
    real_pos = ~kpm if kpm is not None else torch.ones(B, T, dtype=torch.bool)
    # the output at real tokens is the model's own (padded positions: the fused path writes 0 there)
    torch.testing.assert_close(maps.output[real_pos], plain[real_pos], atol=1e-5, rtol=1e-5)
    assert torch.backends.mha.get_fastpath_enabled() and no_hooks(enc) and not enc.training


def test_transformer_encoder_in_train_mode_with_dropout_zero_and_a_causal_mask():
    enc = encoder(seed=4).train()
    x = torch.randn(2, 5, E)
    mask = nn.Transformer.generate_square_subsequent_mask(5)  # float -inf above the diagonal
    ref, h = reference_layers(enc, x, mask=mask)
    maps = capture_attention(enc, {"src": x, "mask": mask}, eval_mode=False)
    for name, r in zip(maps.names, ref):
        np.testing.assert_allclose(maps.weights[name], r, atol=1e-5)
        assert np.all(np.triu(maps.weights[name], 1) == 0)  # no query looked ahead
    torch.testing.assert_close(maps.output, h, atol=1e-5, rtol=1e-5)
    assert enc.training  # left as it was
    capture_attention(enc, {"src": x, "mask": mask})  # eval for the probe ...
    assert enc.training  # ... and train mode back


def test_nn_transformer_decoder_self_and_cross_attention():
    torch.manual_seed(5)
    tr = nn.Transformer(E, H, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=32, dropout=0.0,
                        batch_first=True).eval()
    src, tgt = torch.randn(2, 7, E), torch.randn(2, 4, E)
    tgt_mask = causal(4)
    maps = capture_attention(tr, {"src": src, "tgt": tgt, "tgt_mask": tgt_mask})
    assert maps.names == ["encoder.layers.0.self_attn", "decoder.layers.0.self_attn",
                          "decoder.layers.0.multihead_attn"]
    assert maps.weights["decoder.layers.0.multihead_attn"].shape == (2, H, 4, 7)
    assert not maps.self_attention["decoder.layers.0.multihead_attn"]
    tr.train()
    with torch.no_grad():
        mem = tr.encoder(src)
        dl = tr.decoder.layers[0]
        x1 = dl.norm1(tgt + dl._sa_block(tgt, tgt_mask, None))
    np.testing.assert_allclose(maps.weights["decoder.layers.0.self_attn"],
                               own_weights(dl.self_attn, tgt, tgt, tgt, attn_mask=tgt_mask), atol=1e-5)
    np.testing.assert_allclose(maps.weights["decoder.layers.0.multihead_attn"],
                               own_weights(dl.multihead_attn, x1, mem, mem), atol=1e-5)


# -- restored, whatever happens ------------------------------------------------------------------------
@pytest.mark.parametrize("before", [True, False])
def test_hooks_gone_and_fastpath_setting_restored_when_forward_raises(before):
    class Raises(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.MultiheadAttention(E, H, batch_first=True)

        def forward(self, x):
            self.attn(x, x, x)
            raise RuntimeError("boom in my forward")

    m = Raises().train()
    torch.backends.mha.set_fastpath_enabled(before)
    try:
        with pytest.raises(DoesNotFit) as e:
            capture_attention(m, torch.randn(1, 3, E))
        assert torch.backends.mha.get_fastpath_enabled() is before
    finally:
        torch.backends.mha.set_fastpath_enabled(True)
    assert str(e.value) == "Your model's forward raised RuntimeError: boom in my forward."
    assert no_hooks(m) and m.training


# -- attention= -----------------------------------------------------------------------------------------
def test_attention_passed_in_every_rank():
    torch.manual_seed(6)
    w = torch.softmax(torch.randn(2, 3, 5, 5), -1)
    np.testing.assert_allclose(check_attention(w), w.double().numpy())
    np.testing.assert_allclose(check_attention(w[0]), w[:1].double().numpy())
    np.testing.assert_allclose(check_attention(w[0, 1].numpy()), w[:1, 1:2].double().numpy())


@pytest.mark.parametrize("bad, words", [
    (torch.ones(5) / 5, "must be (B, heads, T, T), (heads, T, T) or (T, T)"),
    (torch.ones(1, 1, 1, 2, 2) / 2, "it is a tensor of shape (1, 1, 1, 2, 2)"),
    (torch.tensor([[0.5, 0.5], [1.5, -0.5]]), "negative weights (sequence 0, head 0, row 1, column 1: -0.5)"),
    (torch.tensor([[0.5, 0.5], [float("nan"), 0.5]]), "NaN or infinite"),
    (torch.tensor([[0.5, 0.5], [0.2, 0.3]]), "Row 1 of head 0 in sequence 0 of attention= sums to 0.5, not 1"),
    (torch.ones(2, 2, device="meta"), "'meta' device"),
    ([[0.5, 0.5]], "it is a list of 1"),
])
def test_attention_passed_in_misfits(bad, words):
    with pytest.raises(DoesNotFit) as e:
        check_attention(bad)
    assert words in str(e.value)


def test_token_labels():
    maps = capture_attention(SelfAtt().eval(), torch.randn(2, 4, E))
    assert token_labels("abcd", maps, 2) == [list("abcd")] * 2
    assert token_labels([["a", "b", "c", "d"], ["w", "x", "y", "z"]], maps, 2)[1] == list("wxyz")
    ids = torch.tensor([[3, 1, 4, 1], [5, 9, 2, 6]])
    assert token_labels(None, maps, 2, ids)[1] == ["5", "9", "2", "6"]
    with pytest.raises(DoesNotFit, match=r"tokens= has 3 labels but the attention has T = 4 positions"):
        token_labels(["a", "b", "c"], maps, 2)
    with pytest.raises(DoesNotFit, match=r"has 3 lists but the batch has 2 sequences"):
        token_labels([list("abcd")] * 3, maps, 2)


# -- misfits: one sentence each -------------------------------------------------------------------------
def test_misfit_sentences():
    x = torch.randn(1, 3, E)
    with pytest.raises(DoesNotFit) as e:
        capture_attention("my model", x)
    assert str(e.value) == ("This view needs a torch.nn.Module holding an nn.MultiheadAttention; it was given a str.")
    with pytest.raises(DoesNotFit) as e:
        capture_attention(nn.Sequential(nn.Linear(E, E), nn.ReLU(), nn.Linear(E, E)), x)
    assert str(e.value) == ("This module has no nn.MultiheadAttention inside (found only Linear, ReLU); the "
                            "attention view needs an nn.MultiheadAttention inside, or pass the weights as "
                            "attention=(B, heads, T, T).")

    class Skips(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.MultiheadAttention(E, H, batch_first=True)
            self.lin = nn.Linear(E, E)

        def forward(self, x):
            return self.lin(x)

    m = Skips()
    with pytest.raises(DoesNotFit) as e:
        capture_attention(m, x)
    assert str(e.value).startswith("This module holds an nn.MultiheadAttention (attn) but its forward never called it")
    assert no_hooks(m)
    with pytest.raises(DoesNotFit) as e:
        capture_attention(SelfAtt(), torch.randn(1, 3, E, device="meta"))
    assert str(e.value) == ("This module is on cpu but the inputs are on meta; move one of them, e.g. "
                            "model.to('meta') or x.to('cpu').")
    with pytest.raises(DoesNotFit) as e:
        capture_attention(SelfAtt().to("meta"), x)
    assert "'meta' device" in str(e.value)
    with pytest.raises(DoesNotFit, match="a tensor \\(or a tuple of tensors\\); it was given a str"):
        capture_attention(SelfAtt(), "hello")
    with pytest.raises(DoesNotFit) as e:
        capture_attention(SelfAtt(), torch.randn(1, 3, E + 1))  # wrong embedding size: torch's own words
    assert str(e.value) == ("Your model's forward raised AssertionError: was expecting embedding dimension of 16, "
                            "but got 17.")


# -- the figures ----------------------------------------------------------------------------------------
def test_figure_builders_carry_the_numbers():
    w = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    fig = fy.figure("heat", fy.heat_patch(w, list("ab"), list("xyz"), 1, "t"))
    assert np.allclose(np.array(fig.data[0].z, dtype=float), w)
    assert list(fig.layout.xaxis.ticktext) == ["x", "y", "z"] and fig.data[1].y[0] == 0.5  # box around row 1
    r = w[0]
    fig = fy.figure("row", fy.row_patch(r, None, 0, None, row_entropy(r), math.log(3), 2))
    assert "entropy 0.693 nats" in fig.layout.title.text and "ln 3 = 1.099" in fig.layout.title.text
    assert "over the 2 keys it weighs: ln 2 = 0.693" in fig.layout.title.text
    assert list(fig.data[1].y) == pytest.approx([1 / 3, 1 / 3])
    assert row_entropy([0.25] * 4) == pytest.approx(math.log(4))
    fig = fy.figure("heads", fy.heads_patch(np.stack([w, w[::-1]]), 1, 3, "m"), n_heads=3)
    assert np.allclose(np.array(fig.data[1].z, dtype=float), w[::-1]) and fig.data[2].visible is False
    assert fig.data[0].zmax == fig.data[1].zmax == 0.5  # one scale for all heads: the largest weight, 0.5
    centres = [sum(fig.layout[f"xaxis{s}"].domain) / 2 for s in ("", "2", "3")]
    assert [a.x for a in fig.layout.annotations[:2]] == pytest.approx(centres[:2])  # each title over its head
    assert fig.layout.annotations[2].text == ""  # no third head: no title
    assert fy.colour_top(np.array([0.12, 0.31])) == pytest.approx(0.4) and fy.colour_top(np.array([0.97])) == 1.0
    assert fy.figure("loss", fy.loss_patch(None)).layout.annotations[0].text.startswith("No training steps yet")
    h = History()
    for k, v in enumerate([3.0, 1.0, 2.0], start=1):
        h.add(k, v, 0.0)
    fig = fy.figure("loss", fy.loss_patch(h, window=2))
    assert not fig.layout.annotations and list(fig.data[1].y) == pytest.approx([3.0, 2.0, 1.5])


# -- the widget -----------------------------------------------------------------------------------------
class Tiny(nn.Module):
    """The lesson's student model: embedding, two encoder layers, a linear read-out."""

    def __init__(self, V=8, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.emb = nn.Embedding(V, E)
        layer = nn.TransformerEncoderLayer(E, H, 32, dropout=0.0, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.out = nn.Linear(E, V)

    def forward(self, x):
        return self.out(self.enc(self.emb(x)))


def data(n=64, T=6, V=8):
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, V, (n, T), generator=g)
    return x, x.flip(1)


def zs(d, meta):
    fig = next(p.figure for p in d.panes.values() if any(t.meta == meta for t in p.figure.data))
    return np.array(next(t for t in fig.data if t.meta == meta).z, dtype=float)


def model_weights(model, x):
    """Each layer's per-head weights straight from its self_attn (train mode, dropout 0: no fast path)."""
    emb = model.emb(x).detach()
    return reference_layers(model.enc, emb)[0]


@pytest.fixture
def d():
    x, y = data()
    view = yours(Tiny(), inputs=x[:3], tokens=[list("abcdef"), list("ghijkl"), list("mnopqr")], batches=(x, y))
    assert isinstance(view, YoursAttentionDashboard), getattr(view, "sentence", view)
    yield view
    view.close_worker()


def test_widget_builds_and_dropdowns_switch_to_the_right_head_and_layer(d):
    x = d.inputs
    ref = model_weights(d.model, x)
    np.testing.assert_allclose(zs(d, "heat"), ref[0][0, 0], atol=1e-5)
    d.controls["module"].value = "enc.layers.1.self_attn"
    d.controls["head"].value = 3
    d.controls["seq"].value = 2
    d.controls["query"].value = 4
    np.testing.assert_allclose(zs(d, "heat"), ref[1][2, 3], atol=1e-5)
    heat = d.panes["heat"].figure
    assert list(heat.layout.xaxis.ticktext) == list("mnopqr")
    assert "enc.layers.1.self_attn: head 3, sequence 2" in heat.layout.title.text
    row_trace = next(t for t in d.panes["row"].figure.data if t.meta == "row")
    row = ref[1][2, 3, 4]
    np.testing.assert_allclose(np.array(row_trace.y, dtype=float), row, atol=1e-5)
    h = -(row * np.log(row)).sum()
    assert f"entropy {h:.3f} nats" in d.panes["row"].figure.layout.title.text
    assert f"ln 6 = {math.log(6):.3f}" in d.panes["row"].figure.layout.title.text
    for k in range(H):
        np.testing.assert_allclose(zs(d, f"head_{k}"), ref[1][2, k], atol=1e-5)
    d.state.head = 99  # a forged value: clamped and said
    assert d.state.head == 3 == d.controls["head"].value and "Head must be at most 3" in d.status.value
    d.controls["module"].set_state({"index": 7})  # no such module: the control keeps its value, one sentence
    assert d.state.module == "enc.layers.1.self_attn" and "Attention cannot take" in d.status.value


def test_one_step_trains_and_the_weights_follow(d):
    before = {k: v.clone() for k, v in d.model.state_dict().items()}
    d.buttons["step"].click()
    assert d.run.steps == 1 and "One step taken (step 1" in d.status.value
    assert any(not torch.equal(before[k], v) for k, v in d.model.state_dict().items())
    loss = d.run.history[NAME]
    assert list(next(t for t in d.panes["loss"].figure.data if t.meta == "loss_raw").y) == pytest.approx(
        list(loss.column("loss")))
    np.testing.assert_allclose(zs(d, "heat"), model_weights(d.model, d.inputs)[0][0, 0], atol=1e-5)
    d.controls["lr"].value = 0.01
    assert all(g["lr"] == pytest.approx(0.01) for g in d.run.opts[NAME].param_groups)
    d.buttons["reset"].click()
    assert all(torch.equal(before[k], v) for k, v in d.model.state_dict().items()) and d.run.steps == 0
    assert d.run.cfg.lr == pytest.approx(0.01)  # the slider's rate, not the one the view was built with


def test_train_and_pause(d):
    d.buttons["train"].click()
    assert wait_for(lambda: d.run.steps >= 5, timeout=60)
    d.buttons["pause"].click()
    assert not workers_alive("seqviz-yours_attention")
    assert d.buttons["train"].disabled is False
    np.testing.assert_allclose(zs(d, "heat"), model_weights(d.model, d.inputs)[0][0, 0], atol=1e-5)


def test_attention_passed_alone_and_in_voila(monkeypatch):
    w = torch.softmax(torch.randn(2, 5, 5), -1)
    v = yours(attention=w, tokens="hello")
    assert isinstance(v, YoursAttentionDashboard) and v.maps.names == [PASSED]
    np.testing.assert_allclose(zs(v, "heat"), w[0].double().numpy())
    v.one_step()
    assert "Nothing to train: pass batches=" in v.status.value
    v.close_worker()
    # a model with attention of its own (no nn.MultiheadAttention), its weights passed in, trained here
    x, y = data()
    own = nn.Sequential(nn.Embedding(8, E), nn.Linear(E, 8))
    v = yours(own, attention=torch.softmax(torch.randn(3, 2, 6, 6), -1), batches=(x, y))
    assert isinstance(v, YoursAttentionDashboard), getattr(v, "sentence", v)
    assert v.maps.names == [PASSED] and "does not change while the model trains" in v.status.value
    v.one_step()
    assert v.run.steps == 1
    v.close_worker()
    monkeypatch.setenv("VOILA_BASE_URL", "/")
    note = yours(Tiny(), inputs=data()[0][:2])
    assert isinstance(note, NotFit) and note.sentence == VOILA_NOTE


def test_widget_misfits_are_one_sentence():
    x, y = data()

    class Tuple(Tiny):
        def forward(self, x):
            return super().forward(x), None

    cases = [
        (dict(model=nn.Sequential(nn.Linear(E, E), nn.ReLU()), inputs=torch.randn(1, 3, E)), "found only Linear, ReLU"),
        (dict(model=Tiny(), inputs=x[:2], tokens=list("abc")), "tokens= has 3 labels but the attention has T = 6"),
        (dict(model=Tuple(), batches=(x, y)),
         "This module returns a tuple of 2: a tensor of shape (32, 6, 8) and None"),
        (dict(model=Tiny()), "pass inputs=, or batches= to train it"),
        (dict(), "needs your model (with inputs= or batches=) or weights as attention="),
        (dict(attention=torch.ones(3)), "attention= must be (B, heads, T, T)"),
        (dict(model=Tiny(), inputs=x[:2].to("meta")), "This module is on cpu but the inputs are on meta"),
    ]
    for kw, words in cases:
        v = yours(**kw)
        assert isinstance(v, NotFit), kw
        assert words in v.sentence, v.sentence
        assert "Traceback" not in v.sentence
