"""Attention engine: weights against the equations and against PyTorch's own
nn.MultiheadAttention, masks, permutation equivariance, the toy tasks, the loop."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
import torch
from torch import nn

from seqviz.data.translation import CharData, TranslationConfig, TranslationTask, char_corpus
from seqviz.models.attention import (AdditiveAttention, MultiHeadSelfAttention, Seq2SeqConfig, TransformerConfig,
                                     build_seq2seq, build_transformer, dot_product_attention, simple_self_attention,
                                     sinusoidal)
from seqviz.probes.attention import (alignment_accuracy, entropy_tables, entropy_vs_dim, keys_per_row, max_entropy,
                                     permutation_gap, recompute_additive, recompute_self_attention, reference_entropy,
                                     row_entropy, worked_cell)
from seqviz.experiments.attention import PRESETS, build_lm, build_s2s


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def tiny_transformer(**kw):
    cfg = TransformerConfig(vocab=7, d_model=16, n_heads=4, n_layers=2, ff=32, max_len=12)
    return build_transformer(cfg.__class__(**{**cfg.__dict__, **kw}), seed=3).double()


# -- weights: rows sum to 1, masks are exact zeros -----------------------------------
def test_dot_product_rows_sum_to_one_and_mask_is_exact_zero():
    q, k, v = (torch.randn(2, 3, 9, 5, generator=gen(i)) for i in range(3))
    for causal in (False, True):
        y, w = dot_product_attention(q, k, v, causal=causal)
        torch.testing.assert_close(w.sum(-1), torch.ones(2, 3, 9))
        torch.testing.assert_close(y, w @ v)
        if causal:
            upper = torch.triu(torch.ones(9, 9, dtype=torch.bool), diagonal=1)
            assert (w[..., upper] == 0).all()  # exactly zero, not just small
            assert (w[..., ~upper] > 0).all()


def test_additive_attention_matches_its_equation():
    att = AdditiveAttention(query_dim=4, key_dim=6, attn_dim=5)
    s, h = torch.randn(3, 4, generator=gen(1)), torch.randn(3, 7, 6, generator=gen(2))
    ctx, a = att(s, h)
    e = torch.stack([torch.stack([att.v.weight[0] @ torch.tanh(att.W_s.weight @ s[b] + att.W_h.weight @ h[b, j]
                                                                + att.W_h.bias) for j in range(7)]) for b in range(3)])
    torch.testing.assert_close(a, torch.softmax(e, -1))
    torch.testing.assert_close(a.sum(-1), torch.ones(3))
    torch.testing.assert_close(ctx, torch.einsum("bs,bse->be", a, h))


def test_own_multihead_attention_equals_pytorch():
    d, nh, T = 12, 3, 6
    ours = MultiHeadSelfAttention(d, nh)
    ref = nn.MultiheadAttention(d, nh, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.W_q.weight, ours.W_k.weight, ours.W_v.weight]))
        ref.in_proj_bias.copy_(torch.cat([ours.W_q.bias, ours.W_k.bias, ours.W_v.bias]))
        ref.out_proj.weight.copy_(ours.W_o.weight)
        ref.out_proj.bias.copy_(ours.W_o.bias)
    x = torch.randn(2, T, d, generator=gen(4))
    for causal in (False, True):
        y, w = ours(x, causal=causal)
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1) if causal else None
        y_ref, w_ref = ref(x, x, x, attn_mask=mask, need_weights=True, average_attn_weights=False)
        torch.testing.assert_close(w, w_ref, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(y, y_ref, atol=1e-6, rtol=1e-5)


def test_simple_self_attention_is_softmax_of_dot_products():
    x = torch.randn(1, 5, 4, generator=gen(5), dtype=torch.float64)
    y, w = simple_self_attention(x)
    W = np.exp(x[0].numpy() @ x[0].numpy().T)
    W /= W.sum(1, keepdims=True)
    np.testing.assert_allclose(w[0].numpy(), W, rtol=1e-12)
    np.testing.assert_allclose(y[0].numpy(), W @ x[0].numpy(), rtol=1e-12)


# -- recomputed from the equation with the model's own weights -------------------------
@pytest.mark.parametrize("kw", [dict(), dict(causal=False, scaled=False), dict(attention="simple"),
                                dict(position="sinusoidal", causal=False)])
def test_transformer_weights_equal_the_equation(kw):
    m = tiny_transformer(**kw)
    tokens = torch.randint(0, 7, (2, 10), generator=gen(6))
    trace = []
    with torch.no_grad():
        m(tokens, trace=trace)
    for layer, t in enumerate(trace):
        w, q, k, v = recompute_self_attention(m, t["x_in"], layer)
        np.testing.assert_allclose(t["weights"].numpy(), w, atol=1e-10)
        np.testing.assert_allclose(t["q"].numpy(), q, atol=1e-10)
        np.testing.assert_allclose(t["weights"].sum(-1).numpy(), 1.0, atol=1e-12)
        if m.cfg.causal:
            assert (t["weights"][..., torch.triu(torch.ones(10, 10, dtype=torch.bool), 1)] == 0).all()


def test_worked_cell_reproduces_one_weight():
    m = tiny_transformer()
    tr = []
    with torch.no_grad():
        m(torch.randint(0, 7, (1, 8), generator=gen(7)), trace=tr)
    q, k = tr[1]["q"][0, 2].numpy(), tr[1]["k"][0, 2].numpy()
    for i, j in ((5, 3), (2, 6)):
        cell = worked_cell(q[i], k, j, scaled=True, allowed=np.arange(8) <= i)
        assert cell["w"] == pytest.approx(float(tr[1]["weights"][0, 2, i, j]), abs=1e-12)
        assert cell["masked"] == (j > i)
        if not cell["masked"]:
            assert math.exp(cell["score"] - cell["lse"]) == pytest.approx(cell["w"], rel=1e-12)


def test_seq2seq_weights_equal_the_equation_and_rows_sum_to_one():
    task = TranslationTask()
    for values, feed in (("embeddings", False), ("states", True)):
        m = build_seq2seq(Seq2SeqConfig(vocab=task.V, values=values, feed_previous=feed), seed=1).double()
        p = task.sample(4, gen(8), length=7)
        with torch.no_grad():
            tr = m.run(p.src, p.tgt)
        alpha, _ = recompute_additive(m, tr.h, tr.s_prev)
        np.testing.assert_allclose(tr.weights.numpy(), alpha, atol=1e-10)
        np.testing.assert_allclose(tr.weights.sum(-1).numpy(), 1.0, atol=1e-12)


def test_without_fed_back_tokens_teacher_forcing_equals_greedy():
    task = TranslationTask()
    m = build_seq2seq(Seq2SeqConfig(vocab=task.V), seed=2)
    p = task.sample(3, gen(9), length=6)
    with torch.no_grad():
        a, b = m.run(p.src, p.tgt), m.run(p.src, n_out=6)
    torch.testing.assert_close(a.weights, b.weights)
    with torch.no_grad():
        assert build_seq2seq(Seq2SeqConfig(vocab=task.V, attention=False), seed=2).run(p.src, n_out=6).weights is None


# -- permutation equivariance ----------------------------------------------------------
def test_without_position_information_a_permutation_permutes_the_output():
    tokens = torch.randint(0, 7, (2, 10), generator=gen(10))
    perm = torch.randperm(10, generator=gen(11))
    free = tiny_transformer(position="none", causal=False)
    assert permutation_gap(free, tokens, perm) < 1e-10
    # the same check by hand on one attention layer
    x = torch.randn(1, 10, 16, generator=gen(12), dtype=torch.float64)
    with torch.no_grad():
        y, w = free.blocks[0].attn(x)
    y_p, w_p = free.blocks[0].attn(x[:, perm])
    torch.testing.assert_close(y_p, y[:, perm])
    torch.testing.assert_close(w_p, w[:, :, perm][:, :, :, perm])
    # position embeddings or a causal mask break the symmetry
    assert permutation_gap(tiny_transformer(position="learned", causal=False), tokens, perm) > 1e-3
    assert permutation_gap(tiny_transformer(position="sinusoidal", causal=False), tokens, perm) > 1e-3
    assert permutation_gap(tiny_transformer(position="none", causal=True), tokens, perm) > 1e-3


def test_sinusoidal_matches_the_formula_and_learned_positions_have_a_limit():
    pe = sinusoidal(5, 6).numpy()
    for pos in range(5):
        for i in range(3):
            assert pe[pos, 2 * i] == pytest.approx(math.sin(pos / 10000 ** (2 * i / 6)), abs=1e-6)
            assert pe[pos, 2 * i + 1] == pytest.approx(math.cos(pos / 10000 ** (2 * i / 6)), abs=1e-6)
    with pytest.raises(ValueError, match="12 positions"):
        tiny_transformer()(torch.zeros(1, 13, dtype=torch.long))


# -- probes --------------------------------------------------------------------------------
def test_alignment_accuracy_is_a_direct_count():
    w = torch.rand(3, 5, 6, generator=gen(13))
    align = torch.rand(3, 5, 6, generator=gen(14)) > 0.7
    align[0, 1] = False  # a row with no deciding position is left out
    hits = rows = 0
    for b in range(3):
        for i in range(5):
            if align[b, i].any():
                rows += 1
                hits += bool(align[b, i, int(w[b, i].argmax())])
    assert alignment_accuracy(w, align) == pytest.approx(hits / rows)


def test_entropy_direct_and_softmax_saturates_without_scaling():
    w = np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(row_entropy(w), [math.log(2), 0.0])
    scaled, unscaled = entropy_vs_dim([4, 256], T=8, scaled=True), entropy_vs_dim([4, 256], T=8, scaled=False)
    assert unscaled[1] < unscaled[0] and unscaled[1] < 0.5 * scaled[1]
    assert abs(scaled[1] - scaled[0]) < 0.2 * math.log(8)


# -- tasks ---------------------------------------------------------------------------------
def test_reverse_and_shuffle_targets_follow_their_rule():
    task = TranslationTask()
    p = task.sample(4, gen(15))
    for s, t, a in zip(p.src.tolist(), p.tgt.tolist(), p.align):
        assert t == s[::-1]
        assert [int(r.nonzero()) for r in a] == list(range(len(s) - 1, -1, -1))
    sh = TranslationTask(TranslationConfig(task="permute", max_len=6, perm_seed=3))
    p = sh.sample(2, gen(16))
    for s, t, a in zip(p.src.tolist(), p.tgt.tolist(), p.align):
        assert t == [s[int(a[i].nonzero())] for i in range(6)]
    assert sorted(sh.perm.tolist()) == list(range(6))


def test_date_rewriting_and_its_alignment():
    task = TranslationTask(TranslationConfig(task="date"))
    src, msg = task.parse("22 Nov 2026")
    tgt, align = task.target_and_alignment(src[None])
    assert task.decode(tgt[0]) == "2026-11-22" and msg is None
    assert not align[0, 4].any() and not align[0, 7].any()  # the dashes have no source
    assert [int(align[0, k].nonzero()) for k in (0, 3, 8, 9)] == [7, 10, 0, 1]
    p = task.sample(3, gen(17))
    assert all(task.decode(t)[4] == "-" for t in p.tgt)


def test_sampling_is_seeded():
    task = TranslationTask()
    a, b = task.sample(5, gen(18)), task.sample(5, gen(18))
    assert torch.equal(a.src, b.src) and torch.equal(a.tgt, b.tgt)


def test_typed_sources_get_plain_messages():
    task = TranslationTask()
    assert task.parse("")[0] is None and "at least one" in task.parse("   ")[1]
    ids, msg = task.parse("ab\u00e9\U0001F600c")
    assert task.decode(ids) == "abc" and "2 character" in msg
    ids, msg = task.parse("abcdefghij" * 10)
    assert len(ids) == 40 and "first 40" in msg and "up to 12" in msg
    assert "22 Nov 2026" in TranslationTask(TranslationConfig(task="date")).parse("2026-11-22")[1]


def test_char_corpus_needs_no_download_and_encodes_unknowns():
    text = char_corpus()
    assert text.startswith("The Zen of Python") and "Beautiful is better than ugly." in text
    data = CharData.from_text(text)
    ids, unknown = data.encode("Be\u00e9\U0001F600")
    assert unknown == 2 and ids.tolist()[2:] == [0, 0]
    x, y = data.batch(3, 8, gen(19))
    assert torch.equal(x[:, 1:], y[:, :-1])


# -- training ------------------------------------------------------------------------------
def test_default_preset_reaches_90_percent_alignment():
    """The issue's bar, by a bounded number of steps (not wall time): evaluate the greedy
    alignment on held-out sources of every training length every 100 steps."""
    task, run = build_s2s(PRESETS["default"])
    for name in ("bottleneck",):  # the attention model trains alone here; its batches are the same
        run.models.pop(name), run.opts.pop(name, None), run.history.pop(name)
    held = [task.sample(32, gen(1000 + L), length=L) for L in range(4, 13)]
    best = 0.0
    for _ in range(10):
        run.train(threading.Event(), max_steps=100)
        with torch.no_grad():
            acc = np.mean([alignment_accuracy(run.models["attention"].run(p.src, n_out=p.tgt.shape[1]).weights,
                                              p.align) for p in held])
        best = max(best, float(acc))
        if best >= 0.9:
            break
    assert best >= 0.9, f"alignment accuracy only reached {best:.2f} in {run.steps} steps"


def test_training_is_seeded_and_honours_stop():
    data = CharData.from_text(char_corpus())
    runs = [build_lm(PRESETS["default"], data) for _ in range(2)]
    for r in runs:
        assert r.train(threading.Event(), max_steps=3) == "max_steps"
    assert runs[0].history["transformer"].loss.tolist() == runs[1].history["transformer"].loss.tolist()
    stop = threading.Event()
    stop.set()
    assert runs[0].train(stop) == "stopped" and runs[0].steps == 3


def test_without_the_causal_mask_the_model_cheats_by_looking_at_the_next_character():
    """Same batches, same steps: the unmasked model's loss falls far below the masked one's,
    and some head puts most of its weight on key j = i + 1, the character to predict."""
    data = CharData.from_text(char_corpus())
    runs = {c: build_lm(PRESETS["default"], data, causal=c) for c in (True, False)}
    for r in runs.values():
        r.train(threading.Event(), max_steps=300)
    loss = {c: np.mean(r.history["transformer"].loss[-10:]) for c, r in runs.items()}
    assert loss[False] < 0.3 * loss[True], loss
    x, _ = data.batch(8, 32, gen(20))
    tr = []
    with torch.no_grad():
        runs[False].models["transformer"](x, trace=tr)
    next_char = max(float(t["weights"][..., torch.arange(31), torch.arange(1, 32)].mean((0, 2)).max()) for t in tr)
    assert next_char > 0.4, next_char


def test_random_score_entropy_over_masked_rows_matches_monte_carlo():
    """entropy_tables draws rows as |q| z (exact in distribution); compare with whole masked
    score matrices q_i . k_j of standard-normal vectors, and the maximum with ln(keys per row)."""
    T, dims = 12, (2, 16)
    tables = entropy_tables(dims, T, n=4000, seed=1)
    g = torch.Generator().manual_seed(5)
    for causal in (True, False):
        counts = keys_per_row(T, causal)
        assert max_entropy(counts) == pytest.approx(np.mean([math.log(c) for c in counts]))
        for a, k in enumerate(dims):
            q, kk = (torch.randn(3000, T, k, generator=g, dtype=torch.float64) for _ in range(2))
            for scaled in (True, False):
                s = q @ kk.transpose(1, 2) / (math.sqrt(k) if scaled else 1.0)
                if causal:
                    s = s.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
                direct = row_entropy(torch.softmax(s, -1).numpy()).mean()
                assert reference_entropy(tables[scaled], counts)[a] == pytest.approx(direct, abs=0.03)
    with pytest.raises(ValueError):
        reference_entropy(tables[True], keys_per_row(T + 1, False))


def test_frequency_baseline_closed_form_and_monte_carlo():
    rev = TranslationTask(TranslationConfig(task="reverse"))
    loss, acc = rev.frequency_baseline()
    assert loss == pytest.approx(math.log(10)) and acc == pytest.approx(0.1)  # 10 letters, uniform
    date = TranslationTask(TranslationConfig(task="date"))
    p = date.sample(20_000, torch.Generator().manual_seed(3)).tgt.flatten()
    freq = torch.bincount(p, minlength=date.V).double() / len(p)
    f = freq[freq > 0]
    loss, acc = date.frequency_baseline()
    assert loss == pytest.approx(float(-(f * f.log()).sum()), abs=0.01)
    assert acc == pytest.approx(float(f.max()), abs=0.01) and acc == pytest.approx(0.2)  # '-' twice in 10
    data = CharData.from_text(char_corpus())
    counts = np.bincount(data.ids.numpy())
    q = counts[counts > 0] / counts.sum()
    assert data.frequency_entropy() == pytest.approx(float(-(q * np.log(q)).sum()))


