"""Padding, masking, bucketing, packing and text cleaning, checked against independent
computations: PyTorch's own packed LSTM, direct counts, autograd-free references."""

from __future__ import annotations

import unicodedata

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seqviz.data.batching import (
    LengthConfig, bucket_by_length, pack, pack_layout, pad, padding_waste, random_batches,
    random_sequences, sample_lengths, unpack,
)
from seqviz.data.text import TextConfig, clean_text, graphemes, tokenise
from seqviz.probes.packing import (
    TimingConfig, ToyConfig, build_toy, final_states, masked_loss, onehot_vs_embedding,
    packed_cpu_backward_bytes, time_lstm,
)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def right_padded(lengths, D, g):
    B, T = len(lengths), int(lengths.max())
    x = torch.randn(B, T, D, generator=g)
    mask = torch.arange(T)[None, :] < lengths[:, None]  # (B, T)
    return x * mask[..., None], mask


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("cell", [nn.LSTM, nn.GRU, nn.RNN])
def test_packed_rnn_equals_padded_rnn_at_real_positions(seed, cell):
    g = gen(seed)
    lengths = torch.randint(1, 12, (7,), generator=g)
    x, mask = right_padded(lengths, 3, g)
    torch.manual_seed(seed)
    rnn = cell(3, 5, batch_first=True)
    out_pad, h_pad = rnn(x)
    out_pk, h_pk = rnn(pack(x, lengths))
    out_un, len_un = unpack(out_pk, total_length=x.shape[1])
    assert torch.equal(len_un, lengths)
    torch.testing.assert_close(out_un[mask], out_pad[mask], atol=1e-5, rtol=1e-5)
    assert torch.all(out_un[~mask] == 0)
    h_n = h_pk[0] if isinstance(h_pk, tuple) else h_pk  # (1, B, H)
    torch.testing.assert_close(h_n[0], out_pad[torch.arange(len(lengths)), lengths - 1], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("seed", [0, 3, 7])
def test_batch_sizes_count_sequences_longer_than_t(seed):
    lengths = torch.randint(1, 15, (9,), generator=gen(seed))
    lay = pack_layout(lengths)
    T = int(lengths.max())
    assert lay.batch_sizes == [int((lengths > t).sum()) for t in range(T)]
    assert lay.n_rows == int(lengths.sum())
    for t in range(T):
        rows = list(lay.rows_at(t))
        assert {lay.data_t[r] for r in rows} == {t}
        assert sorted(lay.data_b[r] for r in rows) == [b for b in range(len(lengths)) if lengths[b] > t]
    # sorted_indices orders by length, longest first; unsorted_indices is its inverse
    assert [int(lengths[i]) for i in lay.sorted_indices] == sorted(lengths.tolist(), reverse=True)
    assert [lay.sorted_indices[j] for j in lay.unsorted_indices] == list(range(len(lengths)))


def test_pack_layout_rejects_empty_sequence():
    with pytest.raises(ValueError, match="at least one token"):
        pack_layout([3, 0, 2])


@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_places_tokens_and_mask(side):
    seqs = [torch.tensor([5, 6, 7]), torch.tensor([8]), torch.tensor([9, 10])]
    b = pad(seqs, side=side)
    assert b.tokens.shape == (3, 3)
    for i, s in enumerate(seqs):
        assert b.tokens[i][b.mask[i]].tolist() == s.tolist()
        assert torch.all(b.tokens[i][~b.mask[i]] == 0)
    assert b.pad_cells == 9 - 6
    first_real = b.mask.float().argmax(1).tolist()
    assert first_real == ([0, 0, 0] if side == "right" else [0, 2, 1])


def test_masked_loss_equals_loss_over_real_tokens_only():
    g = gen(4)
    lengths = torch.randint(1, 9, (6,), generator=g)
    T = int(lengths.max())
    mask = torch.arange(T)[None, :] < lengths[:, None]
    logits = torch.randn(6, T, 4, generator=g)
    targets = torch.randint(0, 4, (6, T), generator=g)
    cmp = masked_loss(logits, targets, mask)
    real_only = F.cross_entropy(logits[mask], targets[mask])  # (n_real, C): pads never enter
    assert cmp.masked == pytest.approx(float(real_only), rel=1e-5)
    assert cmp.unmasked == pytest.approx(float(F.cross_entropy(logits.reshape(-1, 4), targets.reshape(-1))), rel=1e-5)
    assert cmp.per_cell.shape == (6, T)


@pytest.mark.parametrize("max_tokens", [None, 60])
def test_padding_waste_matches_direct_count(max_tokens):
    g = gen(5)
    lengths = sample_lengths(LengthConfig(kind="heavy", n=50, min_len=2, max_len=40), g)
    seqs = random_sequences(lengths, 20, g)
    for batches in (random_batches(50, 8, g), bucket_by_length(lengths, 8, max_tokens)):
        w = padding_waste(lengths, batches, dim=16, dtype=torch.float32)
        pads = reals = 0
        for ix in batches:
            pb = pad([seqs[i] for i in ix.tolist()])
            pads += int((~pb.mask).sum())
            reals += int(pb.mask.sum())
        assert (w.pad_cells, w.real_cells) == (pads, reals)
        assert w.share == pytest.approx(pads / (pads + reals))
        assert w.pad_bytes == pads * 16 * 4


def test_sorted_buckets_cover_every_sequence_and_respect_budget():
    lengths = sample_lengths(LengthConfig(kind="heavy", n=80, max_len=60), gen(6))
    batches = bucket_by_length(lengths, batch_size=16, max_tokens=100)
    assert sorted(torch.cat(batches).tolist()) == list(range(80))
    for ix in batches:
        assert len(ix) <= 16
        assert len(ix) == 1 or len(ix) * int(lengths[ix].max()) <= 100
    maxes = [int(lengths[ix].max()) for ix in batches]
    assert maxes == sorted(maxes)
    assert len(batches[-1]) < len(batches[0])  # the batch shrinks as sequences grow
    # sorting never wastes more than random batching of the same size
    plain = bucket_by_length(lengths, 16)
    assert padding_waste(lengths, plain).pad_cells <= padding_waste(lengths, random_batches(80, 16, gen(1))).pad_cells


def test_sample_lengths_seeded_bounded_and_leaves_global_rng_alone():
    state = torch.get_rng_state()
    cfg = LengthConfig(kind="heavy", n=200, min_len=3, max_len=100)
    a, b = sample_lengths(cfg, gen(9)), sample_lengths(cfg, gen(9))
    assert torch.equal(a, b)
    assert int(a.min()) >= 3 and int(a.max()) <= 100
    assert int((a >= 80).sum()) >= 1  # outliers in the top fifth
    assert float(a.float().median()) < 20  # most sequences are short
    u = sample_lengths(LengthConfig(kind="uniform", n=200, min_len=3, max_len=100), gen(9))
    assert int(u.min()) >= 3 and int(u.max()) <= 100
    build_toy(ToyConfig(), seed=0)
    assert torch.equal(torch.get_rng_state(), state)


def test_onehot_times_weight_selects_columns_like_embedding_lookup():
    emb = build_toy(ToyConfig(vocab=12, embed=4), seed=1).emb
    ids = torch.tensor([3, 0, 11, 3])
    v = onehot_vs_embedding(ids, emb)
    torch.testing.assert_close(v.product, v.lookup)
    torch.testing.assert_close(v.product, v.weight[:, ids].T)  # columns of W, one per token
    assert v.onehot.sum(1).tolist() == [1.0] * 4
    assert v.max_abs_diff == 0.0


@pytest.mark.parametrize("side", ["right", "left"])
def test_final_states_last_padded_position_is_wrong_packed_is_right(side):
    model = build_toy(ToyConfig(vocab=20), seed=2)
    lengths = torch.tensor([5, 2, 4, 1])
    seqs = random_sequences(lengths, 20, gen(2))
    fs = final_states(model, pad(seqs, side=side))
    # independent reference: each sequence alone, no padding at all
    for b, s in enumerate(seqs):
        _, (h, _) = model.lstm(model.emb(s)[None])
        torch.testing.assert_close(fs.h_packed[b], h[0, 0], atol=1e-5, rtol=1e-5)
        if side == "right":
            assert fs.err_true_last[b] < 1e-5
        if len(s) < 5:
            assert fs.err_last_padded[b] > 1e-4  # the pads changed (right) or fed (left) the state
        else:
            assert fs.err_last_padded[b] < 1e-5


def test_time_lstm_counts_cells_and_names_device():
    lengths = torch.tensor([3, 9, 4, 4, 1, 7])
    batches = [torch.tensor([0, 1, 2]), torch.tensor([3, 4, 5])]
    res = time_lstm(lengths, {"padded": (batches, False), "packed": (batches, True)},
                    TimingConfig(hidden=8, dim=4, reps=1), gen(0), torch.device("cpu"), "CPU, 1 thread")
    assert [r.name for r in res] == ["padded", "packed"]
    assert res[0].cells == 3 * 9 + 3 * 7 and res[1].cells == int(lengths.sum())
    assert all(r.ms > 0 and r.device == "CPU, 1 thread" for r in res)
    stopped = time_lstm(lengths, {"padded": (batches, False)}, TimingConfig(hidden=8, dim=4), gen(0),
                        torch.device("cpu"), "cpu", stop=lambda: True)
    assert stopped == []


def test_packed_cpu_backward_bytes_counts_ragged_batches_only():
    lengths = torch.tensor([4, 4, 2, 3])
    assert packed_cpu_backward_bytes(lengths, [torch.tensor([0, 1])], hidden=8) == 0
    assert packed_cpu_backward_bytes(lengths, [torch.tensor([2, 3])], hidden=8) == 3 * 5 * 4 * 8 * 4


# -- text ------------------------------------------------------------------------


def test_lone_surrogate_is_replaced_and_reported():
    c = tokenise("\ud800 hello\nworld \udfff")
    assert c.tokens == [["\ufffd", "hello"], ["world", "\ufffd"]]
    assert any("surrogate" in n for n in c.notes)
    "".join(c.lines).encode("utf-8")  # must be encodable now


def test_surrogate_pair_written_as_two_code_points_is_joined():
    clean, notes = clean_text("\ud83d\ude00")
    assert clean == "\U0001F600" and notes == []


def test_controls_bidi_overrides_removed_rtl_kept():
    c = tokenise("a\x00b\tc\x07 \u202eשלום")
    assert c.tokens == [["ab", "c", "שלום"]]
    assert any("control" in n for n in c.notes) and any("direction" in n for n in c.notes)


def test_combining_marks_and_emoji_stay_whole():
    decomposed = "cafe\u0301"
    assert tokenise(decomposed).tokens == tokenise("caf\u00e9").tokens == [["caf\u00e9"]]
    family = "\U0001F468\u200d\U0001F469\u200d\U0001F467"
    assert graphemes("x\u0301" + family + "\U0001F44D\U0001F3FD" + "\U0001F1F3\U0001F1F1") == [
        unicodedata.normalize("NFC", "x\u0301"), family, "\U0001F44D\U0001F3FD", "\U0001F1F3\U0001F1F1"]
    c = tokenise("hi" + family + "!", TextConfig(level="word"))
    assert c.tokens == [["hi", family, "!"]]


def test_empty_duplicates_and_caps_are_reported():
    empty = tokenise("  \n\t\n")
    assert empty.tokens == [] and "type or paste" in empty.notes[-1]
    dup = tokenise("a b\na b\nc")
    assert len(dup.tokens) == 3 and any("repeat" in n for n in dup.notes)
    assert len(tokenise("a b\na b\nc", TextConfig(dedupe=True)).tokens) == 2
    long = tokenise("x " * 5000, TextConfig(max_chars=1000, max_tokens=50))
    assert len(long.tokens[0]) == 50
    assert any("1,000" in n for n in long.notes) and any("Cut 1" in n for n in long.notes)
    many = tokenise("\n".join(f"s{i}" for i in range(300)), TextConfig(max_lines=10))
    assert len(many.tokens) == 10 and any("first 10" in n for n in many.notes)


def test_vocab_encodes_and_decodes_with_pad_and_unk():
    c = tokenise("b a b\nc b", TextConfig(level="word", max_vocab=2))
    assert c.vocab.itos[:2] == ["<pad>", "<unk>"] and c.vocab.itos[2] == "b"
    assert c.vocab.decode(c.ids[0]) == ["b", "a", "b"]
    assert c.vocab.decode(c.ids[1]) == ["<unk>", "b"]  # c is the rarest, beyond max_vocab
    assert c.lengths.tolist() == [3, 2]
    chars = tokenise("ab a", TextConfig(level="char"))
    assert chars.tokens == [["a", "b", " ", "a"]]


# -- the dashboard's scene and Measure job (seqviz.experiments.batching) ----------------------


def test_time_lstm_median_is_the_middle_run_and_says_so():
    lengths = torch.tensor([3, 9, 4, 4, 1, 7])
    batches = [torch.tensor([0, 1, 2]), torch.tensor([3, 4, 5])]
    (r,) = time_lstm(lengths, {"packed": (batches, True)}, TimingConfig(hidden=8, dim=4, reps=3, stat="median"),
                     gen(0), torch.device("cpu"), "cpu")
    assert r.runs == 3 and r.stat == "median" and len(r.all_ms) == 3 and r.ms == sorted(r.all_ms)[1]
    (m,) = time_lstm(lengths, {"padded": (batches, False)}, TimingConfig(hidden=8, dim=4, reps=2), gen(0),
                     torch.device("cpu"), "cpu")
    assert m.stat == "min" and m.ms == min(m.all_ms)  # the benchmark's default is unchanged
    with pytest.raises(ValueError):
        time_lstm(lengths, {}, TimingConfig(stat="mean"), gen(0), torch.device("cpu"), "cpu")


def test_scene_matches_direct_counts():
    from seqviz.experiments.batching import SceneConfig, make_scene

    s = make_scene(SceneConfig(source="random", n=50, max_len=30, batch_size=6, seed=2))
    assert s.batch.tokens.shape == (6, int(s.lengths[:6].max())) and s.steps == int(s.lengths[:6].max())
    assert sorted(torch.cat(s.random_batches).tolist()) == list(range(50))  # every sequence once
    assert sorted(torch.cat(s.sorted_batches).tolist()) == list(range(50))
    srt = [int(s.lengths[i]) for ix in s.sorted_batches for i in ix.tolist()]
    assert srt == sorted(srt)
    assert s.layout.batch_sizes == [int((s.lengths[:6] > t).sum()) for t in range(s.steps)]


def test_scene_error_says_what_to_type():
    from seqviz.experiments.batching import SceneConfig, SceneError, make_scene

    with pytest.raises(SceneError, match="type or paste"):
        make_scene(SceneConfig(text=" \n\t "))


def test_timing_job_measures_one_configuration_per_step_and_finishes():
    from seqviz.experiments.batching import ALL_MEASURED, SceneConfig, TimingJob, make_scene
    from seqviz.training import Finished

    s = make_scene(SceneConfig(text="a b c\nd e\nf g h i\nj", batch_size=2))
    stop = []
    job = TimingJob(s, 8, torch.device("cpu"), "cpu", reps=3, dim=4, stop=lambda: bool(stop))
    first = job.step()
    assert first.name == "padded, shuffled" and first.runs == 3 and first.ms == sorted(first.all_ms)[1]
    assert first.cells == sum(len(ix) * int(s.lengths[ix].max()) for ix in s.random_batches)
    stop.append(1)
    assert job.step() is None and len(job.results) == 1  # a stopped pass is no measurement
    stop.clear()
    names = [job.step().name for _ in range(3)]
    assert names == ["packed, shuffled", "padded, sorted", "packed, sorted"]
    assert job.results[1].cells == int(s.lengths.sum())
    with pytest.raises(Finished, match=ALL_MEASURED):
        job.step()
    other = TimingJob(s, 8, torch.device("cpu"), "cpu", dim=4)
    other.cancel("the data changed")
    with pytest.raises(Finished, match="the data changed"):
        other.step()


def test_a_scene_differing_only_in_shrink_reuses_the_probes_and_they_agree():
    from seqviz.experiments.batching import SceneConfig, make_scene

    cfg = SceneConfig(source="random", n=40, max_len=20, seed=3)
    a = make_scene(cfg)
    a.final, a.loss  # computed
    b = make_scene(SceneConfig(source="random", n=40, max_len=20, seed=3, shrink=True), previous=a)
    assert b.final is a.final and b.loss is a.loss
    fresh = make_scene(SceneConfig(source="random", n=40, max_len=20, seed=3, shrink=True))
    assert fresh.loss.masked == b.loss.masked and fresh.final.err_true_last == b.final.err_true_last
    c = make_scene(SceneConfig(source="random", n=40, max_len=20, seed=4), previous=a)
    assert "final" not in c.__dict__  # another seed: its own probes


def test_probes_are_reused_only_when_they_would_come_out_the_same():
    from seqviz.experiments.batching import SceneConfig, make_scene

    base = dict(source="random", n=60, max_len=30, seed=1)
    a = make_scene(SceneConfig(**base))
    a.loss
    for change in ({"shrink": True}, {"max_len": 31}, {"side": "left"}, {"batch_size": 4}, {"seed": 2}, {"n": 61}):
        b = make_scene(SceneConfig(**{**base, **change}), previous=a)
        fresh = make_scene(SceneConfig(**{**base, **change}))
        reused = b.__dict__.get("loss") is a.loss
        assert b.loss.masked == fresh.loss.masked and b.loss.unmasked == fresh.loss.unmasked, change
        assert b.final.err_last_padded == fresh.final.err_last_padded, change
        if change in ({"side": "left"}, {"batch_size": 4}, {"seed": 2}):
            assert not reused, change  # another batch or model: its own probes
