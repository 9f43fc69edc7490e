"""A minimal model that follows brainfit's model contract, for tests that must not depend on the
registry: two blocks with ``output`` hook points, pipelined arrival, local recurrence, a call
counter and an optional failure on a given call (to interrupt runs); and a learnable toy
classification task (`toy_classification`)."""

import numpy as np
import torch
from torch import nn

from brainfit.training.data import ClassificationData


class Interrupted(KeyboardInterrupt):
    """Raised by Tiny on ``fail_on_call`` to simulate an interruption (Ctrl-C) mid-run."""



class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride, 1)
        self.rec = nn.Conv2d(cout, cout, 3, 1, 1)
        self.output = nn.Identity()


class Tiny(nn.Module):
    is_recurrent = True
    n_steps = 6
    on_steps = 4
    n_classes = 3
    def __init__(self):
        super().__init__()
        self.b1 = Block(3, 4, 2); self.b2 = Block(4, 8, 2)
        self.layers = {"b1": self.b1, "b2": self.b2}
        self.regions = {"b1": "V4", "b2": "IT"}
        self.head = nn.Linear(8, 3)
        self.calls = 0
        self.fail_on_call = None
    def arrival_step(self, layer):
        return {"b1": 0, "b2": 1}[layer]
    def forward(self, x, n_steps=None, on_steps=None, return_layers=False):
        """Logits (B, T, 3); with return_layers also {layer: (B, T, C, H, W)} (zeros before arrival)."""
        self.calls += 1
        if self.fail_on_call is not None and self.calls == self.fail_on_call:
            raise Interrupted("simulated interruption")
        n_steps = n_steps or self.n_steps; on_steps = on_steps or self.on_steps
        h1 = h2 = None
        logits, per_layer = [], {"b1": [], "b2": []}
        for t in range(n_steps):
            inp = x if t < on_steps else torch.zeros_like(x)
            prev1 = h1
            a = self.b1.conv(inp)
            h1 = self.b1.output(torch.relu(a + (self.b1.rec(h1) if h1 is not None else 0)))
            if prev1 is not None:
                a2 = self.b2.conv(prev1)
                h2 = self.b2.output(torch.relu(a2 + (self.b2.rec(h2) if h2 is not None else 0)))
            per_layer["b1"].append(h1)
            per_layer["b2"].append(h2 if h2 is not None else torch.zeros(x.shape[0], 8, (x.shape[2] + 3) // 4, (x.shape[3] + 3) // 4))
            logits.append(self.head(h2.mean((2, 3))) if h2 is not None else self.head.bias.expand(x.shape[0], -1))
        logits = torch.stack(logits, 1)
        if return_layers:
            return logits, {k: torch.stack(v, 1) for k, v in per_layer.items()}
        return logits


def toy_classification(n=96, size=16, n_classes=4, seed=0):
    """Learnable toy task: the class sets which colour channel is bright."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % n_classes
    imgs = rng.integers(0, 60, size=(n, size, size, 3)).astype(np.uint8)
    for i, c in enumerate(labels):
        imgs[i, :, :, c % 3] += np.uint8(120 + 60 * (c // 3))
    return ClassificationData(imgs, labels.astype(np.int64), [f"c{i}" for i in range(n_classes)], "toy")
