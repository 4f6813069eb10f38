"""Exponential moving average of the weights (Polyak averaging), as in Song & Ermon 2020 and DDPM's released code.

The trainer (``dlhelpers.training``) keeps one and ships it as the ``final`` weights; its state is in every
checkpoint, so a resumed run averages exactly as an uninterrupted one.
"""
from __future__ import annotations

import torch


class EMA:
    """Exponential moving average of the weights: θ_ema ← d · θ_ema + (1 − d) · θ, buffers copied.

    The decay warms up as min(d, (1 + n) / (10 + n)) after n updates, so early snapshots are not dominated by the
    random initialisation.
    """

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.updates = 0
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}
        # state_dict() tensors share storage with the live weights, which the optimizer updates in place.
        live = model.state_dict()
        self._float = [(self.shadow[k], v) for k, v in live.items() if v.is_floating_point()]
        self._other = [(self.shadow[k], v) for k, v in live.items() if not v.is_floating_point()]

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        torch._foreach_lerp_([s for s, _ in self._float], [v for _, v in self._float], 1 - decay)
        for s, v in self._other:
            s.copy_(v)

    def state_dict(self) -> dict:
        return {k: v.clone() for k, v in self.shadow.items()}

    def load_state_dict(self, state: dict, updates: int = 0) -> None:
        for k, v in state.items():
            self.shadow[k].copy_(v)
        self.updates = updates
