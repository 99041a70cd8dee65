"""Next-slot workload forecasters of paper B (Sec. V): the LSTM-based Transformer and the four
recurrent baselines of Table II.

Every model maps a window ``x`` of shape ``[batch, T, features]`` (feature 0 is the scaled
series value; T = 6 in paper B) to the scaled value of the next slot, shape ``[batch]``.

- :class:`LSTMTransformer` (paper B Fig. 2, eqs. (17)–(18)): an LSTM with ``d_h = 32``
  hidden units reads the window; a dense layer lifts each of its T outputs to ``d_k = 64``;
  a Transformer encoder with ``H = 4`` heads attends over the T positions; the last
  position's output goes through a linear head to the next value. The LSTM's outputs
  already carry their order, so no positional encoding is added.
- :class:`RecurrentForecaster`: LSTM or GRU (one layer, 64 units) and a linear head on the
  last hidden state; with ``conv_channels > 0`` a Conv1d of kernel size 1 (+ ReLU) first maps
  each step's features to that many channels, which gives paper B's CNN-LSTM and CNN-GRU.

**One model for all servers.** Paper B's Algorithm 1 trains one model per edge server. We
train one model on the windows of every series (each series standardised with its own
training mean and standard deviation), which scales to the 207 sensors of METR-LA and the
68–84 RSUs of the migration scenario, and serves servers the model never saw. An optional
learned server embedding (``n_series > 0, embed_dim > 0``) is appended to every step's
features for users who want per-series behaviour; the predictor then needs the series index.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn

__all__ = [
    "MODEL_NAMES",
    "Forecaster",
    "LSTMTransformer",
    "RecurrentForecaster",
    "build_model",
]

MODEL_NAMES: tuple[str, ...] = ("lstm_transformer", "cnn_gru", "lstm", "gru", "cnn_lstm")
"""The five models of Table II, in the paper's column order."""


class Forecaster(nn.Module, ABC):
    """Base class: optional server embedding and the ``[B, T, F] → [B]`` contract."""

    def __init__(self, n_features: int, n_series: int = 0, embed_dim: int = 0) -> None:
        super().__init__()
        if n_features < 1:
            raise ValueError(f"n_features = {n_features}: must be ≥ 1")
        if (n_series > 0) != (embed_dim > 0):
            raise ValueError(
                f"server embedding needs both n_series and embed_dim > 0, got "
                f"n_series = {n_series}, embed_dim = {embed_dim}"
            )
        self.n_features = n_features
        self.n_series = n_series
        self.embedding = nn.Embedding(n_series, embed_dim) if embed_dim > 0 else None
        self.input_size = n_features + embed_dim

    def _inputs(self, x: torch.Tensor, series: torch.Tensor | None) -> torch.Tensor:
        if x.ndim != 3 or x.shape[-1] != self.n_features:
            raise ValueError(
                f"input shape {tuple(x.shape)}: expected [batch, T, {self.n_features}]"
            )
        if self.embedding is None:
            return x
        if series is None:
            raise ValueError("this model has a server embedding: pass the series index")
        emb = self.embedding(series.long())[:, None, :].expand(-1, x.shape[1], -1)
        return torch.cat([x, emb], dim=-1)

    @abstractmethod
    def forward(self, x: torch.Tensor, series: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: [B, T, F] scaled window; ``series``: [B] series indices → [B] next value."""


class LSTMTransformer(Forecaster):
    """LSTM (d_h) → dense (d_k) → Transformer encoder (H heads) → next value (paper B Sec. V)."""

    def __init__(
        self,
        n_features: int = 1,
        *,
        lstm_hidden: int = 32,
        d_k: int = 64,
        heads: int = 4,
        layers: int = 1,
        feedforward: int = 128,
        dropout: float = 0.1,
        n_series: int = 0,
        embed_dim: int = 0,
    ) -> None:
        super().__init__(n_features, n_series, embed_dim)
        if d_k % heads:
            raise ValueError(f"d_k = {d_k} must be divisible by heads = {heads}")
        self.lstm = nn.LSTM(self.input_size, lstm_hidden, batch_first=True)  # eq. (17)
        self.dense = nn.Linear(lstm_hidden, d_k)  # H_t → T × d_k
        layer = nn.TransformerEncoderLayer(
            d_model=d_k,
            nhead=heads,
            dim_feedforward=feedforward,
            dropout=dropout,
            batch_first=True,
        )  # eq. (18): multi-head self-attention over the T positions
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_k, 1)

    def forward(self, x: torch.Tensor, series: torch.Tensor | None = None) -> torch.Tensor:
        h, _ = self.lstm(self._inputs(x, series))
        z = self.encoder(self.dense(h))
        return self.head(z[:, -1]).squeeze(-1)


class RecurrentForecaster(Forecaster):
    """LSTM or GRU on the window, linear head on the last state; optional kernel-1 Conv1d."""

    def __init__(
        self,
        n_features: int = 1,
        *,
        cell: str = "lstm",
        hidden: int = 64,
        conv_channels: int = 0,
        n_series: int = 0,
        embed_dim: int = 0,
    ) -> None:
        super().__init__(n_features, n_series, embed_dim)
        rnn_types: dict[str, type[nn.LSTM] | type[nn.GRU]] = {"lstm": nn.LSTM, "gru": nn.GRU}
        if cell not in rnn_types:
            raise ValueError(f"cell = {cell!r}; allowed: lstm, gru")
        self.conv = (
            nn.Conv1d(self.input_size, conv_channels, kernel_size=1) if conv_channels > 0 else None
        )
        width = conv_channels if conv_channels > 0 else self.input_size
        self.rnn = rnn_types[cell](width, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor, series: torch.Tensor | None = None) -> torch.Tensor:
        z = self._inputs(x, series)
        if self.conv is not None:
            z = torch.relu(self.conv(z.transpose(1, 2))).transpose(1, 2)
        out, _ = self.rnn(z)
        return self.head(out[:, -1]).squeeze(-1)


def build_model(
    name: str,
    n_features: int = 1,
    *,
    n_series: int = 0,
    embed_dim: int = 0,
    **params: int | float,
) -> Forecaster:
    """Build one of :data:`MODEL_NAMES`; ``params`` override the constructor's defaults."""
    common = {"n_series": n_series, "embed_dim": embed_dim}
    try:
        if name == "lstm_transformer":
            return LSTMTransformer(n_features, **common, **params)  # type: ignore[arg-type]
        if name in ("lstm", "gru", "cnn_lstm", "cnn_gru"):
            cell = name.removeprefix("cnn_")
            conv = int(params.pop("conv_channels", 64)) if name.startswith("cnn_") else 0
            return RecurrentForecaster(
                n_features,
                cell=cell,
                conv_channels=conv,
                **common,
                **params,  # type: ignore[arg-type]
            )
    except TypeError as exc:
        raise ValueError(f"model {name!r}: bad parameter ({exc})") from None
    raise ValueError(f"model = {name!r}; allowed: {', '.join(MODEL_NAMES)}")
