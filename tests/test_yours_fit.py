"""seqviz.yours: the checks every "your own model" entry point makes, and user_run on the one training loop.

Each misfit is one sentence naming what was expected and what was found; user_run trains the
student's module with their optimizer and loss exactly as a hand-written loop would.
"""

import copy

import pytest
import torch
from torch import nn

from seqviz.yours import DoesNotFit, batch_source, default_loss, describe, module_device, require_module, user_run
from widgets.kit.yours import VOILA_NOTE, NotFit, in_voila, your_model_entry


class Reg(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.lstm = nn.LSTM(2, 8, batch_first=True)
        self.head = nn.Linear(8, 1)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1]).squeeze(-1)


def data(n=64, T=6):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, T, 2, generator=g)
    return x, x[:, :, 0].sum(1)


def one_sentence(text):
    assert text.strip() and "\n" not in text and "Traceback" not in text
    assert text.count(". ") <= 2, text  # one sentence (a hint may follow)


def test_describe_says_shapes_and_tuples():
    assert describe(torch.zeros(8, 10)) == "a tensor of shape (8, 10)"
    assert describe(torch.zeros(3)) == "a tensor of shape (3,)"
    assert describe((torch.zeros(2, 3), (torch.zeros(1), torch.zeros(1)))) == \
        "a tuple of 2: a tensor of shape (2, 3) and a tuple of 2"
    assert describe(3) == "an int" and describe("x") == "a str" and describe(None) == "None"


def test_user_run_trains_exactly_like_a_hand_written_loop():
    x, y = data()
    mine, ref = Reg(), Reg()
    ref.load_state_dict(mine.state_dict())
    opt = torch.optim.SGD(mine.parameters(), lr=0.05)
    run = user_run(mine, [(x[:32], y[:32]), (x[32:], y[32:])], loss_fn=nn.MSELoss(), optimizer=opt)
    assert all(p.grad is None for p in mine.parameters())  # the up-front check left nothing behind
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.05)
    for i in range(4):
        run.step()
        xb, yb = (x[:32], y[:32]) if i % 2 == 0 else (x[32:], y[32:])
        ref_opt.zero_grad()
        loss = nn.functional.mse_loss(ref(xb), yb)
        loss.backward()
        ref_opt.step()
        assert run.history["your model"].loss[-1] == pytest.approx(loss.item(), rel=1e-6)
    for a, b in zip(mine.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b)
    assert run.opts["your model"] is opt


def test_the_checked_batch_is_the_first_trained_on():
    x, y = data(n=100)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=40)
    seen = []
    run = user_run(Reg(), loader, loss_fn=lambda o, t: (seen.append(t.shape[0]), nn.functional.mse_loss(o, t))[1])
    seen.clear()
    for _ in range(4):
        run.step()
    assert seen == [40, 40, 20, 40]  # the up-front check's batch was not lost


def test_drawn_batches_do_not_repeat_the_checked_one():
    x, y = data(n=200)
    seen = []
    run = user_run(Reg(), (x, y), batch_size=16, loss_fn=lambda o, t: (seen.append(t.clone()), nn.functional.mse_loss(o, t))[1])
    seen.clear()
    for _ in range(3):
        run.step()
    gen = torch.Generator().manual_seed(0)  # the draws a run seeded 0 makes, in order
    expected = [y[torch.randperm(200, generator=gen)[:16]] for _ in range(3)]
    for got, want in zip(seen, expected):
        torch.testing.assert_close(got, want)
    assert not torch.equal(seen[0], seen[1])


def test_batch_source_forms():
    x, y = data(n=100)
    gen = torch.Generator().manual_seed(0)
    xb, yb = batch_source((x, y), batch_size=16)(gen)
    assert xb.shape == (16, 6, 2)  # rows drawn from the data, targets kept with their rows
    torch.testing.assert_close(yb, xb[:, :, 0].sum(1))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=40)
    src = batch_source(loader)
    sizes = [src(gen)[0].shape[0] for _ in range(4)]
    assert sizes == [40, 40, 20, 40]  # started again when it ran out
    assert batch_source(lambda g: (x[:3], y[:3]))(gen)[0].shape[0] == 3


def test_default_loss_is_cross_entropy_or_mse():
    out, y = torch.randn(4, 5, 7), torch.randint(0, 7, (4, 5))
    torch.testing.assert_close(default_loss(out, y), nn.functional.cross_entropy(out.reshape(-1, 7), y.reshape(-1)))
    a, b = torch.randn(4, 1), torch.randn(4)
    torch.testing.assert_close(default_loss(a, b), nn.functional.mse_loss(a.squeeze(1), b))


@pytest.mark.parametrize("case", ["not a module", "tuple", "shapes", "device", "raises", "batches", "optimizer",
                                  "rows", "empty", "loss"])
def test_each_misfit_is_one_sentence(case):
    x, y = data()
    model = Reg()

    class Tuple(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(2, 4, batch_first=True)

        def forward(self, x):
            return self.lstm(x)

    class Raises(Reg):
        def forward(self, x):
            raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (32x3 and 2x8)\nmore lines")

    calls = {
        "not a module": lambda: user_run("my model", (x, y)),
        "tuple": lambda: user_run(Tuple(), (x, y)),
        "shapes": lambda: user_run(model, (x, torch.randn(64, 3))),
        "device": lambda: user_run(model, (x.to("meta"), y.to("meta"))),
        "raises": lambda: user_run(Raises(), (x, y)),
        "batches": lambda: user_run(model, 42),
        "optimizer": lambda: user_run(model, (x, y), optimizer=torch.optim.SGD(Reg().parameters(), lr=0.1)),
        "rows": lambda: user_run(model, (x, y[:10])),
        "empty": lambda: user_run(model, []),
        "loss": lambda: user_run(model, (x, y), loss_fn=lambda o, t: (o - t) ** 2),
    }
    expected = {"not a module": "torch.nn.Module; it was given a str", "tuple": "returns a tuple of 2",
                "shapes": "(32,) but the targets are tensor of shape (32, 3)", "device": "on cpu but your batches are on meta",
                "raises": "forward raised RuntimeError: mat1 and mat2", "batches": "found an int",
                "optimizer": "built on other parameters", "rows": "same number of rows",
                "empty": "list of batches is empty", "loss": "must return one number"}
    with pytest.raises(DoesNotFit) as err:
        calls[case]()
    one_sentence(str(err.value))
    assert expected[case] in str(err.value)


def test_module_on_two_devices_and_meta():
    m = Reg()
    assert module_device(m) == torch.device("cpu")
    m.head.to("meta")
    with pytest.raises(DoesNotFit, match="several devices"):
        module_device(m)
    with pytest.raises(DoesNotFit, match="'meta' device"):
        module_device(Reg().to("meta"))
    assert require_module(m) is m


def test_entry_point_in_voila_and_on_errors(monkeypatch):
    @your_model_entry
    def view(model):
        require_module(model)
        if model == "boom":
            raise KeyError("oops")
        return "built"

    monkeypatch.delenv("VOILA_BASE_URL", raising=False)
    monkeypatch.delenv("VOILA_PREHEAT", raising=False)
    assert not in_voila()
    assert view(Reg()) == "built"
    bad = view(3)
    assert isinstance(bad, NotFit) and bad.sentence == "This view needs a torch.nn.Module; it was given an int."
    assert "&lt;" in NotFit("a <b> tag").value  # escaped
    monkeypatch.setenv("VOILA_BASE_URL", "/")
    assert in_voila()
    note = view(Reg())
    assert isinstance(note, NotFit) and note.sentence == VOILA_NOTE and note.level == "info"


def test_an_unexpected_error_is_one_sentence_too(monkeypatch):
    monkeypatch.delenv("VOILA_BASE_URL", raising=False)
    monkeypatch.delenv("VOILA_PREHEAT", raising=False)

    @your_model_entry
    def view():
        return {}["missing"]

    out = view()
    assert isinstance(out, NotFit) and out.sentence == "Could not build the view on your model: KeyError: 'missing'."


def test_a_students_view_hides_copy_link_and_save_settings(monkeypatch):
    import ipywidgets as ipw

    monkeypatch.delenv("VOILA_BASE_URL", raising=False)
    monkeypatch.delenv("VOILA_PREHEAT", raising=False)

    class View(ipw.VBox):
        def __init__(self):
            super().__init__()
            self.tools = ipw.HBox()

    v = your_model_entry(View)()
    assert v.tools.layout.display == "none" and "seqviz-yours" in v._dom_classes
