"""ConvRNNs: a stack of conv blocks with local recurrent cells and long-range feedback, unrolled in
time with one edge per step (Nayebi et al. 2018).

At step ``t`` block ``k`` receives block ``k-1``'s output from step ``t-1`` (block 0 receives the
image schedule), so block ``k`` first has an output at step ``k``: the feedforward sweep takes as
many steps as there are blocks. A block computes a feedforward drive ``x = BN(conv(input))``, adds
long-range feedback from higher blocks (their previous-step output, resized to this block's
size and combined by a 1x1 convolution), passes it through its cell (or ``relu`` when it has
none), then pools. The image is shown for ``on_steps`` steps, then mean gray (zeros of the
normalised input) until ``n_steps``.

Blocks without a cell and without feedback whose input did not change since the previous step
reuse their previous output, and every block whose input did not change reuses its previous
feedforward drive (exact: the same computation on the same tensor; in training mode batch norm's
running statistics are then updated once per distinct input rather than once per step). With the
image on for 10 of 26 steps, the first cell block's input changes at only three steps, so long
unrolls, in training too, skip most of its convolutions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch
from torch import nn

from brainfit.models.base import VisionModel
from brainfit.models.cells import CELL_TYPES, make_cell
from brainfit.models.registry import register_model

__all__ = ["SMALL_REGIONS", "SMALL_SPEC", "BlockSpec", "ConvBlock", "ConvRNN", "unroll_without_reuse"]


@dataclass(frozen=True)
class BlockSpec:
    """One conv block: output channels, kernel, pooling after it, and whether it has a cell."""

    name: str
    channels: int
    kernel: int = 3
    pool: bool = False
    cell: bool = False


# Sized for 32 px images on a CPU: early downsampling, cells on the 8x8 and 4x4 blocks.
SMALL_SPEC: tuple[BlockSpec, ...] = (
    BlockSpec("conv1", 32, 3, pool=True),
    BlockSpec("conv2", 64, 3, pool=True),
    BlockSpec("conv3", 96, 3, cell=True),
    BlockSpec("conv4", 96, 3, pool=True, cell=True),
    BlockSpec("conv5", 128, 3, cell=True),
)
SMALL_REGIONS = {"conv1": "V1", "conv2": "V2", "conv3": "V4", "conv4": "V4", "conv5": "IT"}


class ConvBlock(nn.Module):
    """conv -> batch norm (the drive) -> cell or relu -> optional 2x2 max pool -> ``output``."""

    def __init__(self, cin: int, spec: BlockSpec, cell: str | None, cell_kw: dict | None = None):
        super().__init__()
        self.spec = spec
        self.conv = nn.Conv2d(cin, spec.channels, spec.kernel, padding=spec.kernel // 2, bias=False)
        self.bn = nn.BatchNorm2d(spec.channels)
        self.cell = make_cell(cell, spec.channels, **(cell_kw or {})) if (cell and spec.cell) else None
        self.pool = nn.MaxPool2d(2) if spec.pool else nn.Identity()
        self.output = nn.Identity()

    def drive(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class ConvRNN(VisionModel):
    """A ConvRNN (or, with ``cell=None``, its feedforward base).

    Parameters
    ----------
    spec : sequence of BlockSpec
        Blocks from low to high.
    cell : str or None
        Cell type for blocks with ``spec.cell`` (``"rgc"``, ``"lstm"``, ``"gru"``, ``"vanilla"``,
        ``"timedecay"``); None gives a feedforward network.
    feedback : sequence of (src, dst) block names
        Long-range feedback edges, ``src`` above ``dst``.
    n_steps, on_steps : int
        Default unroll length and image duration (26 and 10: 260 ms at ~10 ms per step).
    pipelined : bool
        One edge per step (True, ConvRNNs) or the whole stack in one step (False, feedforward).
    unrolled : bool
        Feedforward "unrolled" control: the same weights, but states are reset and feedback is
        dropped at every step, so each step sees only its current input.
    n_classes : int
    in_channels : int
    cell_kw : dict, optional
        Extra cell arguments (e.g. ``kernel_size``).
    input_size : int
        Image size the model was built for (used as the default preprocessing size).
    """

    def __init__(self, spec: Sequence[BlockSpec] = SMALL_SPEC, *, cell: str | None = "rgc",
                 feedback: Sequence[tuple[str, str]] = (), n_steps: int = 26, on_steps: int = 10,
                 pipelined: bool = True, unrolled: bool = False, n_classes: int = 10, in_channels: int = 3,
                 cell_kw: dict | None = None, regions: dict[str, str] | None = None, input_size: int = 32):
        super().__init__()
        names = [s.name for s in spec]
        if len(set(names)) != len(names):
            raise ValueError(f"block names must be unique, got {names}")
        self.spec = tuple(spec)
        self.blocks = nn.ModuleList()
        cin = in_channels
        for s in spec:
            self.blocks.append(ConvBlock(cin, s, cell, cell_kw))
            cin = s.channels
        self.head = nn.Linear(cin, n_classes)
        self.index = {n: i for i, n in enumerate(names)}
        self.feedback_edges = tuple((str(a), str(b)) for a, b in feedback)
        self.fb = nn.ModuleDict()
        for src, dst in self.feedback_edges:
            for n in (src, dst):
                if n not in self.index:
                    raise ValueError(f"feedback edge ({src!r}, {dst!r}) names unknown block {n!r}; blocks: {names}")
            if self.index[src] <= self.index[dst]:
                raise ValueError(f"feedback edge ({src!r}, {dst!r}) must go from a higher block to a lower one")
            conv = nn.Conv2d(spec[self.index[src]].channels, spec[self.index[dst]].channels, 1, bias=False)
            nn.init.zeros_(conv.weight)  # start with no feedback; training grows it
            self.fb[f"{src}_to_{dst}"] = conv
        self.cell_type = cell
        self.cell_kw = dict(cell_kw or {})
        self.pipelined = pipelined
        self.unrolled = unrolled
        self.is_recurrent = bool((cell is not None and any(s.cell for s in spec)) or self.feedback_edges) and not unrolled
        self.n_steps = int(n_steps) if (pipelined or self.is_recurrent) else 1
        self.on_steps = int(min(on_steps, self.n_steps)) if self.n_steps > 1 else 1
        self.n_classes = n_classes
        self.input_size = input_size
        self.regions = dict(SMALL_REGIONS if regions is None else regions)
        self.regions = {k: v for k, v in self.regions.items() if k in self.index}

    # ------------------------------------------------------------------ contract
    @property
    def architecture(self) -> dict:
        return {**super().architecture, "spec": [vars(s) for s in self.spec], "cell": self.cell_type,
                "cell_kw": self.cell_kw, "feedback": [list(e) for e in self.feedback_edges],
                "pipelined": self.pipelined, "unrolled": self.unrolled, "regions": self.regions}

    @property
    def layers(self) -> dict[str, nn.Module]:
        return {s.name: b for s, b in zip(self.spec, self.blocks)}

    def arrival_step(self, layer: str) -> int:
        if layer not in self.index:
            raise KeyError(f"unknown layer {layer!r}; layers: {list(self.index)}")
        return self.index[layer] if self.pipelined else 0

    def readout_step(self) -> int:
        return len(self.blocks) - 1 if self.pipelined else 0

    # ------------------------------------------------------------------ forward
    def _incoming(self, k: int) -> list[tuple[int, nn.Module]]:
        name = self.spec[k].name
        return [(self.index[s], self.fb[f"{s}_to_{d}"]) for s, d in self.feedback_edges if d == name]

    def forward(self, images: torch.Tensor, n_steps: int | None = None, on_steps: int | None = None,
                return_layers: bool = False):
        """Unroll over time.

        Parameters
        ----------
        images : tensor (B, 3, H, W)
            Normalised images.
        n_steps, on_steps : int, optional
            Unroll length and image duration (defaults: the model's). Ignored by a
            non-pipelined feedforward network, which computes a single step.
        return_layers : bool
            Also return ``{layer: (B, T, C, H, W)}`` (zeros before a layer's arrival).

        Returns
        -------
        logits : tensor (B, T, n_classes)
            Before ``readout_step()`` the logits are the readout of a zero state (the bias).
        """
        if images.dim() != 4:
            raise ValueError(f"images must be (B, C, H, W), got shape {tuple(images.shape)}")
        T = self.n_steps if n_steps is None else int(n_steps)
        if not (self.pipelined or self.is_recurrent):
            T = 1
        on = self.on_steps if on_steps is None else int(on_steps)
        if T < 1 or on < 0:
            raise ValueError(f"need n_steps >= 1 and on_steps >= 0, got {T}, {on}")
        K = len(self.blocks)
        outs: list[torch.Tensor | None] = [None] * K
        same: list[bool] = [False] * K  # output identical to the previous step's
        drives: list[torch.Tensor | None] = [None] * K  # each block's last feedforward drive
        states: list[tuple | None] = [None] * K
        incoming = [self._incoming(k) for k in range(K)]
        blank = torch.zeros_like(images)
        logits, record = [], {s.name: [] for s in self.spec} if return_layers else None
        for t in range(T):
            img = images if t < on else blank
            img_same = t > 0 and (t < on) == (t - 1 < on)
            new_outs, new_same = list(outs), [False] * K
            for k, block in enumerate(self.blocks):
                if self.pipelined:
                    if t < k:
                        continue
                    inp, inp_same = (img, img_same) if k == 0 else (outs[k - 1], same[k - 1])
                else:
                    inp, inp_same = (img, img_same) if k == 0 else (new_outs[k - 1], new_same[k - 1])
                has_fb = bool(incoming[k]) and not self.unrolled
                stateless = block.cell is None or self.unrolled
                if stateless and not has_fb and inp_same and outs[k] is not None:
                    y, new_same[k] = outs[k], True
                else:
                    x = drives[k] if (inp_same and drives[k] is not None) else block.drive(inp)
                    drives[k] = x
                    fb = None
                    if has_fb:
                        for src, conv in incoming[k]:
                            if outs[src] is not None:
                                up = nn.functional.interpolate(outs[src], size=x.shape[-2:], mode="bilinear",
                                                               align_corners=False)
                                fb = conv(up) if fb is None else fb + conv(up)
                    if block.cell is not None:
                        st = block.cell.init_state(x) if (states[k] is None or self.unrolled) else states[k]
                        y, states[k] = block.cell(x, st, fb)
                    else:
                        y = torch.relu(x if fb is None else x + fb)
                    y = block.pool(y)
                new_outs[k] = block.output(y)
            outs, same = new_outs, new_same
            top = outs[-1]
            if top is None:
                logits.append(self.head.bias.expand(images.shape[0], -1))
            else:
                logits.append(self.head(top.mean(dim=(2, 3))))
            if record is not None:
                for k, s in enumerate(self.spec):
                    if outs[k] is not None:
                        record[s.name].append(outs[k])
        out = torch.stack(logits, 1)
        if record is None:
            return out
        layers = {}
        for k, s in enumerate(self.spec):
            seq = record[s.name]
            missing = T - len(seq)
            if missing:
                seq = [torch.zeros_like(seq[0])] * missing + seq if seq else []
            layers[s.name] = torch.stack(seq, 1)
        return out, layers


def unroll_without_reuse(model: ConvRNN, images: torch.Tensor, n_steps: int, on_steps: int) -> torch.Tensor:
    """Logits ``(B, T, n_classes)`` of a pipelined ConvRNN without feedback, every block recomputed at
    every step: the definition :meth:`ConvRNN.forward` must equal exactly, and the floor its reuse of
    unchanged drives is timed against (``benchmarks/bench_schedule_unroll.py``)."""
    if not model.pipelined or model.feedback_edges or model.unrolled:
        raise ValueError("unroll_without_reuse covers pipelined ConvRNNs without feedback")
    K = len(model.blocks)
    outs: list[torch.Tensor | None] = [None] * K
    states: list[tuple | None] = [None] * K
    logits = []
    for t in range(n_steps):
        img = images if t < on_steps else torch.zeros_like(images)
        new = list(outs)
        for k, block in enumerate(model.blocks):
            if t < k:
                continue
            drive = block.drive(img if k == 0 else outs[k - 1])
            if block.cell is not None:
                st = block.cell.init_state(drive) if states[k] is None else states[k]
                y, states[k] = block.cell(drive, st, None)
            else:
                y = torch.relu(drive)
            new[k] = block.pool(y)
        outs = new
        top = outs[-1]
        logits.append(model.head(top.mean(dim=(2, 3))) if top is not None
                      else model.head.bias.expand(images.shape[0], -1))
    return torch.stack(logits, 1)


# ----------------------------------------------------------------------------- registered presets


def _preset(cell: str, feedback: tuple = ()) -> Callable[..., ConvRNN]:
    def factory(n_classes: int = 10, n_steps: int = 26, on_steps: int = 10, **kw) -> ConvRNN:
        return ConvRNN(SMALL_SPEC, cell=cell, feedback=feedback, n_steps=n_steps, on_steps=on_steps,
                       n_classes=n_classes, **kw)
    factory.__doc__ = f"Small ConvRNN with {cell} cells" + (f" and feedback {feedback}" if feedback else "") + \
        " (5 blocks, 32 px input)."
    return factory


for _cell in CELL_TYPES:
    register_model(f"convrnn_small_{_cell}")(_preset(_cell))
register_model("convrnn_small_rgc_feedback")(_preset("rgc", (("conv5", "conv3"), ("conv4", "conv2"))))


@register_model("convrnn_small_custom")
def _convrnn_small_custom(cell: str | None = "rgc", feedback: Sequence[Sequence[str]] = (), width: float = 1.0,
                          feedback_init: str = "zeros", n_classes: int = 10, n_steps: int = 26, on_steps: int = 10,
                          **kw) -> ConvRNN:
    """The small ConvRNN with its cell type, feedback edges and width as arguments: the family a
    zoo sweep samples (as architecture searches do).

    ``cell``: one of ``CELL_TYPES``, or None for no cells; ``feedback``: ``(src, dst)`` block
    pairs, ``src`` above ``dst``; ``width``: multiplies every block's channels (rounded, at least 1).
    ``feedback_init``: ``"zeros"`` (the ConvRNN's own: training grows the feedback, so an untrained
    network computes exactly what it would without it) or ``"random"`` (PyTorch's default conv
    init, drawn from the global RNG: untrained networks whose feedback acts).
    """
    if feedback_init not in ("zeros", "random"):
        raise ValueError(f"feedback_init must be 'zeros' or 'random', got {feedback_init!r}")
    if cell is not None and cell not in CELL_TYPES:
        raise ValueError(f"cell must be one of {list(CELL_TYPES)} or None, got {cell!r}")
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not 0 < width <= 16:
        raise ValueError(f"width must be a number in (0, 16], got {width!r}")
    edges = []
    for edge in feedback:
        if isinstance(edge, str) or len(edge) != 2:
            raise ValueError(f"feedback must be a list of (src, dst) block pairs, got {edge!r}")
        edges.append((str(edge[0]), str(edge[1])))
    spec = tuple(replace(s, channels=max(1, round(s.channels * width))) for s in SMALL_SPEC)
    model = ConvRNN(spec, cell=cell, feedback=tuple(edges), n_steps=n_steps, on_steps=on_steps,
                    n_classes=n_classes, **kw)
    if feedback_init == "random":
        for conv in model.fb.values():
            conv.reset_parameters()
    return model
