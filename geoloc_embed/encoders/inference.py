"""Allocation-free chunked inference for ``LocationEncoder.encode`` on the CPU.

``encode`` runs the model over cache-sized chunks of rows. Run as plain ``forward`` calls,
every chunk allocates fresh tensors for the features and each layer's output; on the CPU those
allocations page-fault and evict the cache, and the CSP FFN spends more time outside its two
matrix products than in them. ``ChunkedInference`` preallocates one buffer per stage for the
chunk size and evaluates the same operations with ``out=`` and in-place kernels, so the only
memory written per chunk is those buffers and the caller's output rows.

It applies to models whose network is the CSP FFN (every CSP and TorchSpatial model, and the
bundled default); ``supports`` says when. Each chunk's result is bitwise equal to
``model(chunk)`` in eval mode: the kernels are the same, only where they write changes.
"""

from typing import Callable, Optional

import torch
from torch import Tensor, nn

from .networks import CSPFeedForward, _CSPLayer

__all__ = ["ChunkedInference"]


def _inplace_activation(module: nn.Module) -> Callable[[Tensor], None]:
    """An in-place version of ``module`` (an activation), applied to a buffer nothing else reads."""
    if isinstance(module, nn.LeakyReLU):
        slope = module.negative_slope
        return lambda t: torch.nn.functional.leaky_relu_(t, slope)
    if isinstance(module, nn.ReLU):
        return lambda t: t.relu_()
    if isinstance(module, nn.Tanh):
        return lambda t: t.tanh_()
    if isinstance(module, nn.Sigmoid):
        return lambda t: t.sigmoid_()
    if isinstance(module, nn.GELU):
        approximate = module.approximate
        return lambda t: torch.ops.aten.gelu_(t, approximate=approximate)
    if isinstance(module, nn.Identity):
        return lambda t: None
    return lambda t: t.copy_(module(t))  # any other activation: correct, with one temporary


class _LayerStep:
    """One ``_CSPLayer`` in eval mode: addmm into a buffer, activation, residual, LayerNorm in place."""

    def __init__(self, layer: _CSPLayer, rows: int) -> None:
        weight = layer.linear.weight
        self.weight_t = weight.t()  # a view: picks up in-place weight updates
        self.bias = layer.linear.bias
        self.activation = _inplace_activation(layer.activation)
        self.residual = layer.residual
        self.layernorm = layer.layernorm
        width = weight.shape[0]
        self.buffer = torch.empty((rows, width), dtype=weight.dtype, device=weight.device)
        self.stats = torch.empty((2, rows, 1), dtype=weight.dtype, device=weight.device)

    def __call__(self, x: Tensor, out: Tensor) -> Tensor:
        if self.bias is not None:
            torch.addmm(self.bias, x, self.weight_t, out=out)
        else:
            torch.mm(x, self.weight_t, out=out)
        self.activation(out)
        if self.residual:
            out.add_(x)
        if self.layernorm is not None:
            n = out.shape[0]
            norm = self.layernorm
            # Row-wise: each row's moments are computed before the row is overwritten.
            torch.ops.aten.native_layer_norm.out(out, list(norm.normalized_shape), norm.weight, norm.bias,
                                                 norm.eps, out0=out, out1=self.stats[0, :n],
                                                 out2=self.stats[1, :n])
        return out


class ChunkedInference:
    """Evaluates ``model.network(model.position_encoder(x))`` chunk by chunk into preallocated buffers.

    Args:
        model: a ``LocationEncoder`` in eval mode whose network is a ``CSPFeedForward``
            (``ChunkedInference.supports(model)``), on the CPU.
        rows: the largest chunk that will be passed to ``__call__``.

    Call it under ``torch.inference_mode()`` (or ``no_grad``) with ``x`` (n, 2) [lon, lat]
    degrees in the model's dtype, n <= rows, and ``out`` (n, embed_dim) in the model's dtype.
    """

    def __init__(self, model: nn.Module, rows: int) -> None:
        if not self.supports(model):
            raise ValueError("ChunkedInference needs a CPU LocationEncoder whose network is the CSP FFN")
        self.position_encoder = model.position_encoder
        dtype, device = model.dtype, model.device
        features = self.position_encoder.out_dim
        self.features = torch.empty((rows, features), dtype=dtype, device=device)
        self.workspace = torch.empty(rows * features, dtype=torch.float64, device=device)
        layers = list(model.network.layers)
        self.steps = [_LayerStep(layer, rows) for layer in layers[:-1]]
        self.last = _LayerStep(layers[-1], 0)  # writes straight into the caller's ``out``
        self.rows = rows
        self._embedding: Optional[Tensor] = None

    @staticmethod
    def supports(model: nn.Module) -> bool:
        """True for a CPU model in eval mode whose network is the CSP FFN."""
        network = getattr(model, "network", None)
        return (isinstance(network, CSPFeedForward) and not model.training
                and model.device.type == "cpu" and model.dtype in (torch.float32, torch.float64))

    def embedding_buffer(self, n: int) -> Tensor:
        """A reusable (n, embed_dim) buffer, for callers that post-process the embedding (logits)."""
        if self._embedding is None:
            weight = self.last.weight_t
            self._embedding = torch.empty((self.rows, weight.shape[1]), dtype=weight.dtype,
                                          device=weight.device)
        return self._embedding[:n]

    def __call__(self, x: Tensor, out: Tensor) -> Tensor:
        """(n, 2) degrees -> ``out`` (n, embed_dim), n <= rows."""
        n = x.shape[0]
        if n > self.rows:
            raise ValueError(f"chunk of {n} rows exceeds the {self.rows} rows this plan was built for")
        hidden = self.position_encoder.forward_into(x, self.features[:n], self.workspace)
        for step in self.steps:
            hidden = step(hidden, step.buffer[:n])
        return self.last(hidden, out)
