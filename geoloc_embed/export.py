"""Export a ``LocationEncoder`` to TorchScript or ONNX for deployment without this package.

Both exports capture ``LocationEncoder.forward`` on canonical coordinates: the input is a float32
tensor of shape (N, 2) holding [lon, lat] in degrees (the package's one convention; no validation,
no ``order``/column handling, no wrapping), the output the (N, D) embedding, plus the (N, C)
pre-sigmoid class logits when the model has a class head. The batch dimension N is dynamic.

Precision. Every family computes its phases in float64 and reduces them modulo 2*pi before taking
sin/cos in float32 (``geoloc_embed.encoders.positional.base.sin_cos``). Both exports keep those
float64 operations in the graph as they are:

* TorchScript records them exactly (Python float constants stay double), so a traced module
  matches eager mode bit for bit on the device it was traced on.
* ONNX keeps float64 ``Cast``/``Mul``/``Div``/``Floor``/``Sub``/``Sin``/``Cos``/``MatMul``/``Clip``
  nodes (``torch.remainder`` becomes ``x - floor(x / 2pi) * 2pi``, exact to ~1e-16 relative).
  onnxruntime's CPU provider implements all of them for double (checked with onnxruntime 1.32 for
  every registered family); a runtime without double kernels (some mobile/NPU providers) will
  reject the model or fall back to CPU for those nodes. onnxruntime has no double kernel for
  Asin/Acos/Atan (among others), so position encoders must not use those in float64 (equal-earth-rff
  refines a float32 asin with float64 Newton steps instead). Outputs match eager within 1e-5
  (typically 1e-6, float32 rounding of the network).

Exporters (torch 2.13). ``to_onnx`` uses torch's TorchScript-based exporter
(``torch.onnx.export(..., dynamo=False)``), which is deprecated but exact here and needs only the
``onnx`` package. The torch.export-based exporter (``dynamo=True``, needs ``onnxscript``) currently
rounds Python float constants that take part in float64 arithmetic (pi/180, 2*pi, ...) to float32
(the ``torch.export`` graph holds them exactly; the ONNX translation does not), which moves
high-frequency features by up to ~1e-3; it is available with ``dynamo=True`` and the built-in
verification (``verify=True``) refuses such a file instead of writing it silently.

Both exporters trace: Python-level branches (input dtype, shape checks) are fixed at export time,
and constants created on the fly (e.g. ``torch.arange`` in spherical harmonics) are tied to the
device the model was on. Export on the device you will run on.

Example:
    >>> from geoloc_embed.export import to_onnx, to_torchscript
    >>> to_onnx(model, "encoder.onnx")                      # input "lonlat", output "embedding"
    >>> ts = to_torchscript(model, "encoder.pt")            # torch.jit.load("encoder.pt") later
"""

import contextlib
import json
import math
import os
import warnings
from pathlib import Path
from typing import Any, Iterator, Optional, Union

import torch
from torch import Tensor, nn

from .coords import sample_uniform_sphere
from .errors import GeolocEmbedError

__all__ = ["ONNX_INPUT_NAME", "ONNX_OUTPUT_NAMES", "probe_points", "to_onnx", "to_torchscript"]

ONNX_INPUT_NAME = "lonlat"
ONNX_OUTPUT_NAMES = ("embedding", "logits")

#: Largest accepted |exported - eager| relative to max(1, max |eager|).
_TORCHSCRIPT_TOL = 1e-6
_ONNX_TOL = 1e-5


class _ExportModule(nn.Module):
    """forward(lonlat float32 (N, 2)) -> embedding, or (embedding, logits) with the class head."""

    def __init__(self, model: nn.Module, with_logits: bool) -> None:
        super().__init__()
        self.model = model
        self.with_logits = with_logits
        self.compute_dtype = model.dtype

    def forward(self, lonlat: Tensor) -> Any:
        # Recorded unconditionally, so a float64 caller of the TorchScript module still gets the
        # model's dtype (LocationEncoder.forward's own cast is a Python branch fixed by the trace).
        embedding = self.model(lonlat.to(self.compute_dtype))
        if self.with_logits:
            return embedding, self.model.class_logits(embedding)
        return embedding


def probe_points(n: int = 64, *, seed: int = 0, device: Union[str, torch.device, None] = None) -> Tensor:
    """(n, 2) float32 [lon, lat] degrees: both poles, lon = +-180, the origin, then uniform random points.

    Used to verify exports; n >= 8.
    """
    if n < 8:
        raise ValueError(f"probe_points needs n >= 8, got {n}")
    fixed = torch.tensor([[-180.0, -90.0], [180.0, 90.0], [-180.0, 0.0], [180.0, 0.0],
                          [0.0, 90.0], [0.0, -90.0], [0.0, 0.0], [179.999, -89.999]], dtype=torch.float64)
    random = sample_uniform_sphere(n - fixed.shape[0], generator=torch.Generator().manual_seed(seed),
                                   dtype=torch.float64)
    points = torch.cat((fixed, random)).to(torch.float32)
    return points.to(device) if device is not None else points


def _check_model(model: Any) -> None:
    from .encoders.model import LocationEncoder

    if not isinstance(model, LocationEncoder):
        raise TypeError(f"expected a geoloc_embed.LocationEncoder, got {type(model).__name__}")


def _resolve_logits(model: Any, with_logits: Optional[bool]) -> bool:
    if with_logits is None:
        return model.class_head is not None
    if with_logits and model.class_head is None:
        raise GeolocEmbedError("with_logits=True but this model has no class head (config.num_classes == 0)")
    return bool(with_logits)


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Put ``model`` and every submodule in eval mode; restore each one's own flag afterwards."""
    flags = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, flag in flags:
            module.training = flag


@contextlib.contextmanager
def _quiet_export() -> Iterator[None]:
    """Silence the tracer's shape-check warnings and torch's deprecation notices for jit/legacy ONNX."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch(\.|$)")
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch(\.|$)")
        warnings.filterwarnings("ignore", message=r".*legacy TorchScript-based ONNX export.*")
        yield


def _as_tuple(output: Any) -> tuple[Tensor, ...]:
    return tuple(output) if isinstance(output, (tuple, list)) else (output,)


def _max_error(got: tuple[Any, ...], want: tuple[Tensor, ...]) -> float:
    worst = 0.0
    for g, w in zip(got, want, strict=False):
        g = torch.as_tensor(g, device="cpu").to(torch.float64)
        w = w.detach().cpu().to(torch.float64)
        if g.shape != w.shape:
            return math.inf
        scale = max(1.0, float(w.abs().max())) if w.numel() else 1.0
        worst = max(worst, float((g - w).abs().max()) / scale if w.numel() else 0.0)
    return worst


# --------------------------------------------------------------------------- TorchScript
def to_torchscript(model: Any, path: Union[str, os.PathLike, None] = None, *,
                   with_logits: Optional[bool] = None, example_batch: int = 8,
                   verify: bool = True) -> torch.jit.ScriptModule:
    """Trace ``model.forward`` into a TorchScript module (eval mode, dynamic batch).

    Args:
        model: a ``LocationEncoder``; it is traced on its current device and dtype and left
            unchanged (its training flags are restored).
        path: if given, the module is also saved there (``torch.jit.save``, written atomically);
            load it with ``torch.jit.load(path)``, no geoloc_embed needed.
        with_logits: also return the class logits, as ``(embedding, logits)``. Default: when the
            model has a class head.
        example_batch: batch size of the tracing input (any size works afterwards).
        verify: run the traced module on ``probe_points`` (a different batch size than the trace)
            and raise ``GeolocEmbedError`` when it differs from eager by more than 1e-6.

    Returns:
        ``torch.jit.ScriptModule``: forward((N, 2) float [lon, lat] degrees) -> (N, D) embedding
        [, (N, C) logits]. The float64 phase computation is kept as is (see the module docstring).

    Tracing (not ``torch.jit.script``) is used because it works for every family: the position
    encoders read Python config attributes that scripting cannot compile.
    """
    _check_model(model)
    if example_batch < 1:
        raise ValueError(f"example_batch must be >= 1, got {example_batch}")
    wrapper = _ExportModule(model, _resolve_logits(model, with_logits))
    device = model.device
    example = probe_points(max(8, example_batch), device=device)[:example_batch]
    with _eval_mode(wrapper), torch.no_grad(), _quiet_export():
        traced = torch.jit.trace(wrapper, (example,), check_trace=False)
        if verify:
            points = probe_points(61, seed=1, device=device)
            error = _max_error(_as_tuple(traced(points)), _as_tuple(wrapper(points)))
            if not error <= _TORCHSCRIPT_TOL:
                raise GeolocEmbedError(
                    f"the traced TorchScript module differs from eager mode by {error:.3g} (> {_TORCHSCRIPT_TOL}); "
                    "please report this with the model's config.json")
        if path is not None:
            from .io import atomic_path

            with atomic_path(path) as tmp:
                torch.jit.save(traced, str(tmp))
    return traced


# --------------------------------------------------------------------------- ONNX
def to_onnx(model: Any, path: Union[str, os.PathLike], *, opset: int = 17, dynamic_batch: bool = True,
            batch_size: int = 1, with_logits: Optional[bool] = None, dynamo: bool = False,
            verify: bool = True) -> Path:
    """Export ``model.forward`` to an ONNX file.

    Graph: input ``"lonlat"`` float32 (N, 2) [lon, lat] degrees; output ``"embedding"`` (N, D)
    float32 (float64 for a float64 model), and ``"logits"`` (N, C) when the model has a class head
    (or ``with_logits=True``). N is a dynamic dimension named ``"batch"`` unless
    ``dynamic_batch=False``, in which case it is fixed to ``batch_size``. The float64 phase
    computation stays in the graph as float64 ops (module docstring). The file also carries
    metadata properties ``geoloc_embed.version``, ``geoloc_embed.config`` (config.json) and
    ``geoloc_embed.input``.

    Args:
        model: a ``LocationEncoder`` (exported on its current device; left unchanged).
        path: the .onnx file to write (atomically; parent folders are created).
        opset: ONNX opset (17 or newer keeps LayerNorm a single node).
        dynamic_batch: make N dynamic.
        batch_size: the fixed N when ``dynamic_batch=False``.
        with_logits: add the ``"logits"`` output (default: when the model has a class head).
        dynamo: use torch's torch.export-based exporter (needs ``onnxscript``; see the module
            docstring for why it is not the default).
        verify: when onnxruntime is installed, run the file on ``probe_points`` (two batch sizes
            when the batch is dynamic) and raise ``GeolocEmbedError``, writing nothing, when it
            differs from eager by more than 1e-5 (relative to max(1, max |output|)).

    Returns:
        the path written.

    Requires the ``export`` extra: ``pip install "geoloc-embed[export]"`` (onnx; onnxruntime for
    verification; onnxscript for ``dynamo=True``).
    """
    _check_model(model)
    try:
        import onnx
    except ImportError:
        raise GeolocEmbedError(
            "to_onnx needs the 'onnx' package: pip install \"geoloc-embed[export]\" "
            "(or pip install onnx onnxruntime)") from None
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    logits = _resolve_logits(model, with_logits)
    wrapper = _ExportModule(model, logits)
    output_names = list(ONNX_OUTPUT_NAMES[:2 if logits else 1])
    device = model.device
    example = probe_points(max(8, batch_size), device=device)[:batch_size] if not dynamic_batch \
        else probe_points(8, device=device)[:7]
    target = Path(path)

    from .io import atomic_path

    # Eval mode on the wrapper too: torch.onnx.export puts the exported module back in the mode it
    # found it in, recursively.
    with atomic_path(target) as tmp, _eval_mode(wrapper), torch.no_grad(), _quiet_export():
        if dynamo:
            kwargs: dict[str, Any] = {"dynamo": True, "external_data": False, "verbose": False}
            if dynamic_batch:
                kwargs["dynamic_shapes"] = ({0: torch.export.Dim("batch")},)
        else:
            kwargs = {"dynamo": False, "do_constant_folding": True}
            if dynamic_batch:
                kwargs["dynamic_axes"] = {name: {0: "batch"} for name in [ONNX_INPUT_NAME, *output_names]}
        torch.onnx.export(wrapper, (example,), str(tmp), input_names=[ONNX_INPUT_NAME],
                          output_names=output_names, opset_version=opset, **kwargs)

        proto = onnx.load(str(tmp))
        from ._version import __version__

        for key, value in (("geoloc_embed.version", __version__),
                           ("geoloc_embed.config", model.config.to_json()),
                           ("geoloc_embed.input", json.dumps({
                               "name": ONNX_INPUT_NAME, "shape": ["batch" if dynamic_batch else batch_size, 2],
                               "dtype": "float32", "columns": ["lon", "lat"], "units": "degrees"}))):
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        proto.doc_string = ("geoloc-embed location encoder: lonlat (N, 2) float32 [lon, lat] degrees -> "
                            + ", ".join(output_names))
        onnx.save(proto, str(tmp))

        if verify:
            _verify_onnx(tmp, wrapper, device, dynamic_batch, batch_size, dynamo)
    return target


def _verify_onnx(file: Path, wrapper: _ExportModule, device: torch.device, dynamic_batch: bool,
                 batch_size: int, dynamo: bool) -> None:
    try:
        import onnxruntime
    except ImportError:
        return
    session = onnxruntime.InferenceSession(str(file), providers=["CPUExecutionProvider"])
    sizes = (61, 5) if dynamic_batch else (batch_size,)
    for n in sizes:
        points = probe_points(max(8, n), seed=2, device=device)[:n]
        got = session.run(None, {ONNX_INPUT_NAME: points.cpu().numpy()})
        error = _max_error(tuple(got), _as_tuple(wrapper(points)))
        if not error <= _ONNX_TOL:
            hint = (" The dynamo exporter rounds float constants of float64 arithmetic to float32 in "
                    "torch 2.13; use dynamo=False." if dynamo else " Please report this with the model's config.json.")
            raise GeolocEmbedError(
                f"the exported ONNX model differs from eager mode by {error:.3g} (> {_ONNX_TOL}) at batch size {n}; "
                f"nothing was written.{hint}")
