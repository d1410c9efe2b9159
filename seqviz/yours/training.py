"""A student's module, batches, loss and optimizer as the project's one training loop (``Run``).

``user_run(model, batches, loss_fn=None, optimizer=None)`` checks each piece once, up front, on one
batch, so a misfit is one sentence before anything trains:

- ``batches``: a function ``gen -> (x, y)`` (the engine's own style), one ``(x, y)`` pair of tensors
  (minibatches of ``batch_size`` rows are drawn from it with the run's seeded generator; all of it when
  smaller), a list of ``(x, y)`` pairs (used in turn), or any re-iterable such as a ``DataLoader``
  (started again when it runs out);
- ``loss_fn(output, y) -> scalar`` (``nn.MSELoss()``, ``nn.CrossEntropyLoss()``, a function); by default
  ``default_loss``: cross-entropy for integer targets (over the last dimension of the output), mean
  squared error for float targets of the output's shape;
- ``optimizer``: built on ``model.parameters()`` by the student, or Adam at ``lr``.

Training is ``Run.step()``: the same update, clipping, divergence check and bounded ``History`` as
every dashboard's models.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from seqviz.training import Run, TrainConfig
from seqviz.yours.fit import DoesNotFit, call_forward, describe, require_module, require_same_device, require_tensor


def _pair(batch: Any, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(batch, dict) and {"x", "y"} <= set(batch):
        batch = (batch["x"], batch["y"])
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2
            and all(isinstance(t, torch.Tensor) for t in batch)):
        raise DoesNotFit(f"Each batch must be a pair (x, y) of tensors; {where} is {describe(batch)}.")
    x, y = batch
    if x.shape[0] != y.shape[0]:
        raise DoesNotFit(f"x and y of a batch must have the same number of rows; {where} has x "
                         f"{describe(x)[2:]} and y {describe(y)[2:]}.")
    return x, y


def batch_source(batches: Any, batch_size: int = 32) -> Callable[[torch.Generator], tuple]:
    """``gen -> (x, y)`` from any of the forms the module docstring lists."""
    if callable(batches) and not isinstance(batches, (nn.Module, torch.Tensor)):
        def call(gen):
            return _pair(batches(gen), "what your batch function returned")
        return call
    if isinstance(batches, (tuple, list)) and len(batches) == 2 and all(isinstance(t, torch.Tensor) for t in batches):
        x, y = _pair(batches, "your data")
        n = x.shape[0]
        if n == 0:
            raise DoesNotFit("Your data has no rows: x and y need at least one example each.")

        def draw(gen):
            if n <= batch_size:
                return x, y
            idx = torch.randperm(n, generator=gen)[:batch_size].to(x.device)
            return x[idx], y[idx]
        return draw
    if isinstance(batches, (list, tuple)):
        if not batches:
            raise DoesNotFit("Your list of batches is empty: it needs at least one (x, y) pair.")
        pairs = [_pair(b, f"item {i} of your list") for i, b in enumerate(batches)]
        cycle = itertools.cycle(pairs)
        return lambda gen: next(cycle)
    try:
        iter(batches)
    except TypeError:
        raise DoesNotFit(f"Batches must be a function gen -> (x, y), an (x, y) pair, a list of pairs or a "
                         f"DataLoader; found {describe(batches)}.") from None
    state = {"it": iter(batches)}

    def loader(gen):
        try:
            b = next(state["it"])
        except StopIteration:
            state["it"] = iter(batches)
            try:
                b = next(state["it"])
            except StopIteration:
                raise DoesNotFit("Your DataLoader yields no batches.") from None
        return _pair(b, "a batch from your loader")
    return loader


def default_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for integer targets, mean squared error for float targets of the output's shape."""
    if not y.is_floating_point():
        if out.dim() == y.dim() + 1:
            return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
        raise DoesNotFit(f"With integer targets {describe(y)[2:]} the output should have one more dimension "
                         f"(class scores); it is {describe(out)[2:]}. Pass loss_fn= for another loss.")
    if out.shape == y.shape:
        return F.mse_loss(out, y)
    if out.numel() == y.numel() and out.squeeze().shape == y.squeeze().shape:
        return F.mse_loss(out.reshape(y.shape), y)
    raise DoesNotFit(f"The output is {describe(out)[2:]} but the targets are {describe(y)[2:]}; "
                     f"the default loss (mean squared error) needs them the same shape. Pass loss_fn= for another loss.")


def _scalar_loss(loss_fn: Callable, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    try:
        loss = loss_fn(out, y)
    except DoesNotFit:
        raise
    except Exception as e:
        first = (str(e).strip().splitlines() or [""])[0][:300]
        raise DoesNotFit(f"Your loss_fn(output, y) raised {type(e).__name__}{': ' + first if first else ''} "
                         f"(output {describe(out)[2:]}, y {describe(y)[2:]}).") from e
    if not (isinstance(loss, torch.Tensor) and loss.numel() == 1):
        raise DoesNotFit(f"loss_fn(output, y) must return one number as a tensor; it returned {describe(loss)}.")
    if not loss.requires_grad:
        raise DoesNotFit("The loss does not depend on any parameter that requires a gradient: "
                         "check that the model's parameters have requires_grad=True.")
    return loss.reshape(())


def user_run(model: nn.Module, batches: Any, loss_fn: Callable | None = None,
             optimizer: torch.optim.Optimizer | None = None, lr: float = 1e-3, batch_size: int = 32,
             clip: float | None = None, seed: int = 0, name: str = "your model",
             probe_fn: Callable[[str, nn.Module], Any] | None = None, probe_every: int = 0,
             forward: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = None) -> Run:
    """A ``Run`` that trains the student's ``model`` under ``name`` (see the module docstring).

    ``forward(model, x) -> output`` replaces ``model(x)`` where the view needs the output
    reshaped. Raises ``DoesNotFit`` (one sentence) if one batch does not go through.
    """
    require_module(model)
    source = batch_source(batches, batch_size)
    loss_fn = default_loss if loss_fn is None else loss_fn
    if optimizer is not None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise DoesNotFit(f"optimizer must be a torch.optim optimizer; found {describe(optimizer)}.")
        own = {id(p) for p in model.parameters()}
        if not any(id(p) in own for g in optimizer.param_groups for p in g["params"]):
            raise DoesNotFit("This optimizer was built on other parameters: make it with model.parameters().")
    run_forward = forward or (lambda m, x: m(x))

    def loss(m: nn.Module, batch) -> tuple[torch.Tensor, dict]:
        x, y = batch
        out = require_tensor(call_forward(run_forward, m, x, name=name) if forward else call_forward(m, x, name=name),
                             "one tensor of outputs")
        return _scalar_loss(loss_fn, out, y), {}

    cfg = TrainConfig(batch_size=batch_size, lr=float(optimizer.param_groups[0]["lr"]) if optimizer else lr,
                      optimizer="adam", clip=clip, probe_every=probe_every, seed=seed)
    # One batch through, up front: a misfit is said before anything trains (no update is made).
    # That batch is the first one trained on, so a list or a DataLoader loses none.
    # It is drawn with the run's own generator, so the second batch is the generator's second draw.
    first: list = []

    def batches_from_the_first(gen):
        return first.pop() if first else source(gen)

    run = Run({name: model}, batches_from_the_first, loss, cfg, probe_fn=probe_fn)
    first.append(source(run.gen))
    x, y = first[0]
    require_same_device(model, x, y)
    was = model.training
    try:
        with torch.enable_grad():
            loss(model, (x, y))
    finally:
        model.train(was)
        model.zero_grad(set_to_none=True)
    if optimizer is not None:
        run.opts[name] = optimizer
    return run
