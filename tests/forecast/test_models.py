"""Every forecaster maps [batch, T, features] to [batch] and can fit a small sine series."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vtwin.forecast.models import MODEL_NAMES, LSTMTransformer, build_model


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("features", [1, 3])
def test_output_shape(name: str, features: int) -> None:
    torch.manual_seed(0)
    model = build_model(name, features)
    assert model(torch.randn(7, 6, features)).shape == (7,)
    with pytest.raises(ValueError, match="expected"):
        model(torch.randn(7, 6, features + 1))


def test_paper_b_sizes_of_the_lstm_transformer() -> None:
    model = build_model("lstm_transformer")
    assert isinstance(model, LSTMTransformer)
    assert model.lstm.hidden_size == 32  # d_h
    assert model.dense.out_features == 64  # d_k
    assert model.encoder.layers[0].self_attn.num_heads == 4  # H


def test_cnn_variants_have_a_kernel_one_convolution() -> None:
    for name in ("cnn_lstm", "cnn_gru"):
        model = build_model(name)
        assert model.conv is not None and model.conv.kernel_size == (1,)  # type: ignore[union-attr]
    assert build_model("lstm").conv is None  # type: ignore[union-attr]


def test_server_embedding_needs_the_series_index() -> None:
    model = build_model("gru", n_series=3, embed_dim=2)
    x = torch.randn(4, 6, 1)
    assert model(x, torch.tensor([0, 1, 2, 0])).shape == (4,)
    with pytest.raises(ValueError, match="series index"):
        model(x)


def test_bad_names_and_parameters() -> None:
    with pytest.raises(ValueError, match="allowed: lstm_transformer"):
        build_model("tcn")
    with pytest.raises(ValueError, match="bad parameter"):
        build_model("lstm", bogus=3)
    with pytest.raises(ValueError, match="divisible"):
        build_model("lstm_transformer", d_k=30)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_each_model_overfits_a_tiny_sine_series(name: str) -> None:
    torch.manual_seed(0)
    t = np.arange(80, dtype=np.float32)
    wave = np.sin(2 * np.pi * t / 16)
    idx = np.arange(64)[:, None] + np.arange(6)[None, :]
    x = torch.as_tensor(wave[idx])[..., None]
    y = torch.as_tensor(wave[idx[:, -1] + 1])
    model = build_model(name, dropout=0.0) if name == "lstm_transformer" else build_model(name)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(300):
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 1e-3 * y.var().item()
