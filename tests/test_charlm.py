"""Lesson 07's engine against independent computations: sampling, temperature, teacher forcing, scheduled
sampling, bits per character, unit correlations, the corpus split and the Markov baseline's tokens."""

import math

import numpy as np
import pytest
import torch

from seqviz.data import corpora
from seqviz.experiments.charlm import (END, PRESETS, build_charlm_run, correlations, default_preset, features,
                                       free_running_bits, held_bits, length_shares, load_corpus, markov_baseline,
                                       sampled_lengths, ss_probability, unit_passage)
from seqviz.models.charlm import (CharLMConfig, build_charlm, entropy_bits, mixed_loss, nats_to_bits, sample,
                                  teacher_forced_loss, temperature_probs)

KINDS = ("lstm", "gru", "transformer")


def tiny(kind, vocab=7, seed=0):
    return build_charlm(CharLMConfig(kind=kind, vocab=vocab, embed=5, hidden=8, n_heads=2, n_layers=1, max_len=12),
                        seed=seed)


@pytest.fixture(scope="module")
def names():
    return load_corpus("names")


def log_softmax_np(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


@pytest.mark.parametrize("kind", KINDS)
def test_sampling_with_a_seed_repeats_and_greedy_is_argmax_decoding(kind):
    m = tiny(kind)
    a, _ = sample(m, [2, 3], 10, 1.0, torch.Generator().manual_seed(5), n=3, stop_at_end=False)
    b, _ = sample(m, [2, 3], 10, 1.0, torch.Generator().manual_seed(5), n=3, stop_at_end=False)
    c, _ = sample(m, [2, 3], 10, 1.0, torch.Generator().manual_seed(6), n=3, stop_at_end=False)
    assert a == b and a != c
    # temperature -> 0: argmax of the full teacher-forced forward pass, re-run on the growing text by hand
    greedy, _ = sample(m, [2, 3], 8, 1e-6, None, stop_at_end=False)
    seq = [0, 2, 3]
    with torch.no_grad():
        for _ in range(8):
            seq.append(int(m(torch.tensor([seq[-12:]]))[0, -1].argmax()))
    assert greedy[0] == seq[3:]


def test_temperature_probabilities_are_softmax_of_logits_over_tau():
    z = torch.randn(4, 9, generator=torch.Generator().manual_seed(0)) * 3
    for tau in (0.1, 0.5, 1.0, 2.5):
        ref = np.exp(log_softmax_np(z.numpy().astype(np.float64) / tau))
        np.testing.assert_allclose(temperature_probs(z, tau).numpy(), ref, rtol=1e-5, atol=1e-7)
        h = -(ref * np.log2(ref)).sum(-1)
        np.testing.assert_allclose(entropy_bits(temperature_probs(z, tau)).numpy(), h, rtol=1e-4, atol=1e-6)
    one_hot = temperature_probs(z, 0.0).numpy()
    assert (one_hot.argmax(-1) == z.numpy().argmax(-1)).all() and (one_hot.sum(-1) == 1).all()


@pytest.mark.parametrize("kind", KINDS)
def test_teacher_forced_loss_is_cross_entropy_by_hand_and_ss_at_zero_is_teacher_forcing(kind):
    m = tiny(kind)
    g = torch.Generator().manual_seed(1)
    x = torch.randint(7, (3, 6), generator=g)
    y = torch.randint(7, (3, 6), generator=g)
    mask = torch.ones(3, 6, dtype=torch.bool)
    mask[0, 4:] = False
    loss = teacher_forced_loss(m, x, y, mask)
    with torch.no_grad():
        lp = log_softmax_np(m(x).double().numpy())
    ce = -np.take_along_axis(lp, y.numpy()[..., None], -1)[..., 0]
    ref = (ce * mask.numpy()).sum() / mask.numpy().sum()
    assert float(loss.detach()) == pytest.approx(ref, rel=1e-5)
    ss0 = mixed_loss(m, x, y, mask, 0.0, torch.Generator().manual_seed(0))
    assert float(ss0) == pytest.approx(float(loss), rel=1e-5)
    # and the gradients agree too (the model learns the same from both)
    g1 = torch.autograd.grad(loss, list(m.parameters()), allow_unused=True)
    g2 = torch.autograd.grad(mixed_loss(m, x, y, mask, 0.0, None), list(m.parameters()), allow_unused=True)
    for a, b in zip(g1, g2):
        if a is not None:
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_free_running_feeds_the_models_own_predictions():
    """p_own = 1 with greedy choices = teacher forcing on the greedy continuation of x_0 (by hand)."""
    m = tiny("gru")
    x = torch.tensor([[0, 4, 2, 5, 1]])
    y = torch.tensor([[4, 2, 5, 1, 0]])
    free = mixed_loss(m, x, y, None, 1.0, None, greedy=True)
    seq = [0]
    with torch.no_grad():
        for _ in range(4):
            seq.append(int(m(torch.tensor([seq]))[0, -1].argmax()))
    ref = teacher_forced_loss(m, torch.tensor([seq]), y)
    assert float(free) == pytest.approx(float(ref), rel=1e-5)


def test_the_split_and_what_is_counted_are_lesson_02s(names):
    docs = [corpora.tokens(d, "char") for d in corpora.documents("names")]
    train, held = corpora.split(docs)
    assert names.train == train and names.held == held  # names: no cap, no rare characters
    assert names.n_held_tokens == sum(len(d) + 1 for d in held)
    assert names.documents and names.vocab.itos[0] == END
    x, y, m = names.padded(held[:3])
    assert int(m.sum()) == sum(len(d) + 1 for d in held[:3])
    assert (x[:, 0] == 0).all() and y[0, len(held[0])] == 0


def test_held_out_bits_convert_nats_and_count_one_end_per_document(names):
    m = build_charlm(CharLMConfig(kind="lstm", vocab=len(names.vocab), embed=6, hidden=10), seed=3)
    docs = names.held[:20]
    small = type(names)(names.key, names.title, names.vocab, names.train, docs, True)
    total, n = 0.0, 0  # -log2 p of every character and one END per document, one step at a time
    with torch.no_grad():
        for d in docs:
            ids = names.vocab.encode(d) + [0]
            state, tok = None, torch.tensor([0])
            for t in ids:
                logits, state = m.step(tok, state)
                total -= float(torch.log_softmax(logits.double(), -1)[0, t]) / math.log(2)
                n += 1
                tok = torch.tensor([t])
    assert held_bits(m, small) == pytest.approx(total / n, rel=1e-5)
    assert nats_to_bits(math.log(2) * 3.5) == pytest.approx(3.5)


def test_markov_baseline_is_lesson_02s_on_the_same_tokens(names):
    ngram = pytest.importorskip("seqviz.models.ngram")
    assert markov_baseline(names, 3) == pytest.approx(ngram.markov_bits(names.train, names.held, 3))


def test_unit_correlations_equal_numpys_corrcoef():
    rng = np.random.default_rng(0)
    acts = rng.normal(size=(200, 6))
    f = acts[:, 2] * 0.7 + rng.normal(size=200)
    r = correlations(acts, f)
    ref = [np.corrcoef(acts[:, j], f)[0, 1] for j in range(6)]
    np.testing.assert_allclose(r, ref, rtol=1e-10)
    assert (correlations(acts, np.ones(200)) == 0).all()  # a constant feature correlates with nothing


def test_features_by_hand():
    chars = list('a "b(c) d"') + [END] + list("ae")
    f = features(chars)
    assert list(f["vowel"]) == [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]
    assert list(f["in_quotes"]) == [0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]
    assert list(f["in_brackets"]) == [0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    assert list(f["pos_in_word"]) == [1, 0, 1, 2, 3, 4, 5, 0, 1, 2, 0, 1, 2]
    assert list(f["pos_in_line"])[-2:] == [1, 2]


def test_unit_passage_lines_up_each_character_with_the_state_after_reading_it(names):
    m = build_charlm(CharLMConfig(kind="lstm", vocab=len(names.vocab), embed=6, hidden=10), seed=1)
    chars, acts = unit_passage(m, names, n_chars=40)
    assert len(chars) == len(acts) and chars[len(names.held[0])] == END
    d = names.held[0]
    with torch.no_grad():  # c_t after reading the last character of the first document, by PyTorch's own LSTM
        _, (h, c) = m.core.rnn(m.embed(torch.tensor([[0, *names.vocab.encode(d)]])))
    np.testing.assert_allclose(acts[len(d) - 1], c[0, 0].numpy(), rtol=1e-5, atol=1e-6)


def test_lengths_and_shares():
    m = tiny("lstm")
    L = sampled_lengths(m, 50, 1.0, torch.Generator().manual_seed(0), n_max=20)
    assert L.shape == (50,) and L.min() >= 0 and L.max() <= 20
    s = length_shares(np.array([0, 1, 1, 7, 30]), 5)
    np.testing.assert_allclose(s, [0.2, 0.4, 0, 0, 0, 0.4])


def test_run_tf_and_ss_twins_start_equal_and_diverge_once_ss_feeds_itself(names):
    p = PRESETS["tiny"]
    run = build_charlm_run(names, "gru", p, compare=True)
    for _ in range(p.ss_ramp + 4):
        run.step()
    tf, ss = run.history["tf"], run.history["ss"]
    assert tf.loss[0] == ss.loss[0]  # probability 0 at the first step: the same update
    assert ss.p_own[-1] == pytest.approx(p.ss_max) and ss_probability(0, p) == 0
    assert tf.loss[-1] != ss.loss[-1]
    assert np.isfinite(tf.column("held_bpc")[:: p.eval_every]).all()
    assert np.isfinite(ss.column("free_bpc")[:: p.eval_every]).all()
    assert free_running_bits(run.models["tf"], names, n_docs=8) > 0


@pytest.mark.parametrize("key", ["python_docs", "mail"])
def test_stream_corpora_train_on_windows_and_cap_what_they_score(key):
    c = load_corpus(key)
    assert not c.documents and len(c.vocab) <= 98 and c.notes
    x, y, m = c.batch(torch.Generator().manual_seed(0), 4, 16)
    assert x.shape == (4, 16) and (x[:, 1:] == y[:, :-1]).all() and m.all()
    assert sum(map(len, c.held)) <= 12_000


def test_pasted_text_bad_input_is_a_sentence():
    with pytest.raises(ValueError, match="at least two"):
        load_corpus("pasted", "")
    big = "\n".join(["anna", "bob", "carla"] * 200_000)  # about 2 MB
    c = load_corpus("pasted", big)
    assert any("first 200,000" in n for n in c.notes)
    assert c.documents and len(c.train) > 1


def test_the_gpu_preset_is_chosen_on_cuda_and_runs_small_on_cpu(names):
    assert default_preset("cuda") == "gpu" and default_preset("cpu") == "cpu"
    assert PRESETS["gpu"].hidden > PRESETS["cpu"].hidden
    from dataclasses import replace
    p = replace(PRESETS["gpu"], hidden=16, embed=8, batch=4, T=16)
    run = build_charlm_run(names, "transformer", p)
    run.step()
    assert math.isfinite(run.history["tf"].loss[0])


def test_sampling_is_time_boxed():
    m = tiny("transformer")
    outs, cut = sample(m, [], 10_000, 1.0, torch.Generator().manual_seed(0), stop_at_end=False, time_box_s=0.0)
    assert cut and 1 <= len(outs[0]) < 10_000
    outs, cut = sample(m, [], 5, 1.0, torch.Generator().manual_seed(0), stop_at_end=False, time_box_s=60)
    assert not cut and len(outs[0]) == 5
