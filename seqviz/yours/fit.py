"""Does a student's module fit a view? The checks, and the one sentence when it does not.

Every check raises ``DoesNotFit`` whose message is a single plain sentence: what the view
expected, what it found, and what to do (never a traceback). ``describe`` puts a value into
words ("a tensor of shape (8, 10)", "a tuple of 2: a tensor of shape (8, 10, 32) and a tuple of 2").
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class DoesNotFit(ValueError):
    """A user's module or data does not fit a view; ``str(error)`` is the one sentence to show."""


def describe(value: Any, depth: int = 0) -> str:
    """What ``value`` is, in a few words (shapes of tensors, lengths and items of tuples)."""
    if isinstance(value, torch.Tensor):
        shape = ", ".join(str(int(s)) for s in value.shape)
        return f"a tensor of shape ({shape}{',' if value.dim() == 1 else ''})"
    if value is None:
        return "None"
    if isinstance(value, (tuple, list)):
        kind = "tuple" if isinstance(value, tuple) else "list"
        if depth >= 1 or len(value) > 3:
            return f"a {kind} of {len(value)}"
        items = [describe(v, depth + 1) for v in value]
        return f"a {kind} of {len(value)}: " + (" and ".join(items) if len(items) <= 2 else ", ".join(items))
    if isinstance(value, dict):
        return f"a dict with keys {', '.join(map(str, list(value)[:4]))}"
    if isinstance(value, nn.utils.rnn.PackedSequence):
        return "a PackedSequence"
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def require_module(model: Any, expected: str = "a torch.nn.Module") -> nn.Module:
    """``model`` itself if it is an ``nn.Module``; otherwise one sentence."""
    if not isinstance(model, nn.Module):
        raise DoesNotFit(f"This view needs {expected}; it was given {describe(model)}.")
    return model


def module_device(model: nn.Module) -> torch.device:
    """The one device all of ``model``'s parameters and buffers are on (cpu when it has none)."""
    devices = {t.device for t in (*model.parameters(), *model.buffers())}
    if len(devices) > 1:
        names = ", ".join(sorted(str(d) for d in devices))
        raise DoesNotFit(f"This module's parameters are on several devices ({names}); "
                         f"the view needs them on one: call model.to('cpu') or model.to('cuda').")
    if devices and next(iter(devices)).type == "meta":
        raise DoesNotFit("This module's parameters are on the 'meta' device (they have no values); "
                         "build it on cpu or cuda.")
    return next(iter(devices)) if devices else torch.device("cpu")


def require_same_device(model: nn.Module, *tensors: torch.Tensor, what: str = "your batches") -> torch.device:
    """The model's device, checked against ``tensors``' devices."""
    dev = module_device(model)
    for t in tensors:
        if isinstance(t, torch.Tensor) and t.device != dev:
            raise DoesNotFit(f"This module is on {dev} but {what} are on {t.device}; move one of them, "
                             f"e.g. model.to('{t.device}') or x.to('{dev}').")
    return dev


def call_forward(model: nn.Module, *args, name: str = "your model", **kwargs):
    """``model(*args, **kwargs)``; an exception inside the user's forward becomes one sentence."""
    try:
        return model(*args, **kwargs)
    except DoesNotFit:
        raise
    except Exception as e:  # the student's own code: say what it said, in one line
        first = (str(e).strip().splitlines() or [""])[0][:300]
        raise DoesNotFit(f"{name[:1].upper()}{name[1:]}'s forward raised {type(e).__name__}"
                         f"{': ' + first if first else ''}.") from e


def require_tensor(out: Any, expected: str, see: str = "") -> torch.Tensor:
    """``out`` if it is one tensor; a tuple (an nn.LSTM's (output, (h, c)), say) gets a sentence."""
    if isinstance(out, torch.Tensor):
        return out
    hint = ""
    if isinstance(out, tuple) and out and isinstance(out[0], torch.Tensor):
        hint = " If the first item is what you mean, return only it (e.g. out, _ = self.lstm(x))."
    raise DoesNotFit(f"This module returns {describe(out)}; the view needs {expected}.{hint}"
                     f"{' See ' + see + '.' if see else ''}")
