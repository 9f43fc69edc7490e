"""Local recurrent cells for ConvRNNs (after Nayebi et al. 2018), shared by every architecture.

Every cell has ``init_state(x)`` and ``forward(ff_input, state, feedback=None) -> (output,
new_state)``. ``ff_input`` is the block's feedforward drive ``x_t`` (convolution + batch norm,
before the nonlinearity) and ``feedback`` a long-range input already resized to ``x_t``'s shape;
the cell sees ``u_t = x_t + feedback_t``.

**Bypassing.** Every cell is written so that with a zero state the output is exactly
``relu(u_t)``, the feedforward block's output: the recurrent contribution is a function of the
*previous* state that vanishes at zero (convolutions without bias, or gates scaled to pass the
input unchanged). Hence, at the first step a block is reached, a ConvRNN equals its feedforward
base, and every difference between them is produced by recurrence (Nayebi et al. 2018, "bypassing").

Throughout, ``*`` is a convolution, ``⊙`` an element-wise product and ``σ`` the logistic sigmoid.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Cell", "VanillaCell", "TimeDecayCell", "LSTMCell", "GRUCell", "ReciprocalGatedCell", "CELLS", "CELL_TYPES", "make_cell"]

State = tuple[torch.Tensor, ...]


def _conv(cin: int, cout: int, k: int, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=k // 2, bias=bias)


class Cell(nn.Module):
    """Base class: zero initial state with the shape of the drive."""

    n_states = 1

    def __init__(self, channels: int, kernel_size: int = 3):
        super().__init__()
        self.channels = channels
        self.kernel_size = kernel_size

    def init_state(self, x: torch.Tensor) -> State:
        """Zero state(s) shaped like the drive ``x`` (B, C, H, W)."""
        return tuple(torch.zeros_like(x) for _ in range(self.n_states))

    def forward(self, ff_input: torch.Tensor, state: State, feedback: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, State]:  # pragma: no cover - abstract
        raise NotImplementedError


class VanillaCell(Cell):
    """Convolutional vanilla RNN.

    ``y_t = relu(u_t + W * y_{t-1})``; the state is the output. With ``y_0 = 0``, ``y_1 = relu(u_1)``.
    """

    def __init__(self, channels: int, kernel_size: int = 3):
        super().__init__(channels, kernel_size)
        self.w = _conv(channels, channels, kernel_size)
        nn.init.zeros_(self.w.weight)  # start as the feedforward network; training grows recurrence

    def forward(self, ff_input, state, feedback=None):
        u = ff_input if feedback is None else ff_input + feedback
        (y,) = state
        out = torch.relu(u + self.w(y))
        return out, (out,)


class TimeDecayCell(Cell):
    """Leaky integrator with a learned per-channel time constant (Nayebi et al. 2018, "time decay").

    ``s_t = exp(-1/τ) ⊙ s_{t-1} + u_t``, ``y_t = relu(s_t)``, with ``τ = softplus(ρ) + ε`` per
    channel (in steps, learned). With ``s_0 = 0``, ``y_1 = relu(u_1)``.
    """

    def __init__(self, channels: int, kernel_size: int = 1):
        super().__init__(channels, kernel_size)
        self.rho = nn.Parameter(torch.zeros(1, channels, 1, 1))  # τ ≈ 0.7 step: short memory at init

    @property
    def tau(self) -> torch.Tensor:
        return nn.functional.softplus(self.rho) + 1e-3

    def forward(self, ff_input, state, feedback=None):
        u = ff_input if feedback is None else ff_input + feedback
        (s,) = state
        s = torch.exp(-1.0 / self.tau) * s + u
        return torch.relu(s), (s,)


class LSTMCell(Cell):
    """Convolutional LSTM with a bypassed output.

    Gates from the current drive and the previous hidden state:
    ``[i, f, o, g] = σ/σ/σ/tanh(W_x * u_t + W_h * h_{t-1} + b)``,
    ``c_t = f ⊙ c_{t-1} + i ⊙ g``, ``h_t = o ⊙ tanh(c_t)``.
    Output ``y_t = relu(u_t + U * h_{t-1})``: the memory acts on the output from the next step, so
    with a zero state ``y_1 = relu(u_1)``.
    """

    n_states = 2

    def __init__(self, channels: int, kernel_size: int = 3, gate_kernel: int = 1):
        super().__init__(channels, kernel_size)
        self.gates = _conv(2 * channels, 4 * channels, gate_kernel, bias=True)
        with torch.no_grad():
            self.gates.bias[channels:2 * channels].fill_(1.0)  # forget gate open at init
        self.u = _conv(channels, channels, kernel_size)

    def forward(self, ff_input, state, feedback=None):
        x = ff_input if feedback is None else ff_input + feedback
        h, c = state
        out = torch.relu(x + self.u(h))
        i, f, o, g = self.gates(torch.cat([x, h], 1)).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return out, (h, c)


class GRUCell(Cell):
    """Convolutional GRU with a bypassed output.

    ``z, r = σ(W_x * u_t + W_h * h_{t-1} + b)``, ``ĥ = tanh(V_x * u_t + V_h * (r ⊙ h_{t-1}))``,
    ``h_t = (1 - z) ⊙ h_{t-1} + z ⊙ ĥ``; output ``y_t = relu(u_t + U * h_{t-1})`` (zero state:
    ``y_1 = relu(u_1)``).
    """

    def __init__(self, channels: int, kernel_size: int = 3, gate_kernel: int = 1):
        super().__init__(channels, kernel_size)
        self.gates = _conv(2 * channels, 2 * channels, gate_kernel, bias=True)
        self.vx = _conv(channels, channels, gate_kernel, bias=True)
        self.vh = _conv(channels, channels, gate_kernel)
        self.u = _conv(channels, channels, kernel_size)

    def forward(self, ff_input, state, feedback=None):
        x = ff_input if feedback is None else ff_input + feedback
        (h,) = state
        out = torch.relu(x + self.u(h))
        z, r = torch.sigmoid(self.gates(torch.cat([x, h], 1))).chunk(2, 1)
        cand = torch.tanh(self.vx(x) + self.vh(r * h))
        h = (1 - z) * h + z * cand
        return out, (h,)


class ReciprocalGatedCell(Cell):
    """Reciprocal gated cell (RGC; Nayebi et al. 2018, Fig. 3 and Eq. 2).

    Two states, a hidden state ``h`` and a memory ``c``, each gating the other's access to the
    input, plus self-gated decay::

        h_t = 2 (1 - σ(W_ch * c_{t-1})) ⊙ u_t + (1 - σ(W_hh * h_{t-1} + b_h)) ⊙ h_{t-1}
        c_t = 2 (1 - σ(W_hc * h_{t-1})) ⊙ u_t + (1 - σ(W_cc * c_{t-1} + b_c)) ⊙ c_{t-1}
        y_t = relu(h_t)

    The input gates carry a factor 2 so that they equal exactly 1 at zero state (σ(0) = 1/2):
    that is the *bypass* — with zero states ``h_1 = u_1`` and ``y_1 = relu(u_1)``, the feedforward
    block's output. Gate convolutions of the other state have no bias for the same reason.
    """

    n_states = 2

    def __init__(self, channels: int, kernel_size: int = 1):
        super().__init__(channels, kernel_size)
        self.w_ch = _conv(channels, channels, kernel_size)
        self.w_hc = _conv(channels, channels, kernel_size)
        self.w_hh = _conv(channels, channels, kernel_size, bias=True)
        self.w_cc = _conv(channels, channels, kernel_size, bias=True)
        with torch.no_grad():  # moderate decay at init: half of the state is kept per step
            self.w_hh.bias.zero_()
            self.w_cc.bias.zero_()

    def forward(self, ff_input, state, feedback=None):
        u = ff_input if feedback is None else ff_input + feedback
        h, c = state
        h_new = 2 * (1 - torch.sigmoid(self.w_ch(c))) * u + (1 - torch.sigmoid(self.w_hh(h))) * h
        c_new = 2 * (1 - torch.sigmoid(self.w_hc(h))) * u + (1 - torch.sigmoid(self.w_cc(c))) * c
        return torch.relu(h_new), (h_new, c_new)


CELLS: dict[str, type[Cell]] = {
    "vanilla": VanillaCell,
    "timedecay": TimeDecayCell,
    "lstm": LSTMCell,
    "gru": GRUCell,
    "rgc": ReciprocalGatedCell,
}

#: Cell kinds of the ConvRNN presets (``convrnn_small_<cell>``), in presentation order.
CELL_TYPES = ("rgc", "lstm", "gru", "vanilla", "timedecay")


def make_cell(kind: str, channels: int, **kw) -> Cell:
    """Instantiate a cell by name (``vanilla``, ``timedecay``, ``lstm``, ``gru``, ``rgc``)."""
    if kind not in CELLS:
        raise ValueError(f"unknown cell {kind!r}; cells: {sorted(CELLS)}")
    return CELLS[kind](channels, **kw)
