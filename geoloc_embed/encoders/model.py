"""``LocationEncoder``: position encoder + network + optional class head, with save/load.

Loading is one path: ``from_pretrained`` asks the zoo (``geoloc_embed.zoo.fetch``) for a model directory
or converted weights, ``geoloc_embed.io`` reads them, and ``_load_strict`` checks their names, shapes and
dtypes against a skeleton of ``cls(config)`` (parameters on the meta device, nothing allocated) before
building the model and calling ``load_state_dict(strict=True)``. ``from_directory`` and
``from_state_dict`` enter the same path. Saving and pushing come from ``geoloc_embed.hub_mixin.HubMixin``
(the directory is swapped in whole), which imports huggingface_hub only when pushing to the Hub.
"""

import copy
import os
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

import numpy as np
import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from .. import io, zoo
from ..card import render_model_card
from ..config import LocationEncoderConfig
from ..errors import CoordinateError, GeolocEmbedError
from ..hub_mixin import HubMixin
from ..zoo.catalog import CSP_CITATION
from .networks import BranchSum, build_network
from .positional import build_position_encoder

__all__ = ["LocationEncoder"]

#: Rows per ``self(x)`` call inside ``encode``: on the CPU small enough that a forward's
#: intermediates stay in cache (csp-spec.md section 9, "Speed"; measured with
#: ``benchmarks/encode_throughput.py --chunks``), on accelerators large enough to keep the device busy.
_CPU_CHUNK_ROWS = 1024
_GPU_CHUNK_ROWS = 1 << 20
#: Bytes of the block ``_keep_heap_warm`` allocates and frees (glibc raises its trim threshold to
#: twice this, capped by its 32 MiB maximum mmap threshold).
_HEAP_WARM_BYTES = 16 << 20


class LocationEncoder(nn.Module, HubMixin):
    """A geographic location encoder e(x): (lon, lat) -> R^D.

    Example:
        >>> import geoloc_embed as ge
        >>> enc = ge.LocationEncoder(ge.LocationEncoderConfig(position_encoder="grid"))
        >>> enc.encode([[2.35, 48.86], [-74.0, 40.7]], order="lonlat").shape
        (2, 256)

    Attributes:
        config: the architecture (``LocationEncoderConfig``).
        position_encoder: canonical (N, 2) lon/lat degrees -> (N, F) features.
        network: (N, F) -> (N, D) embedding.
        class_head: optional ``Linear(D, num_classes, bias=False)`` (CSP's ``class_emb``).
        pretrained_spec: registry entry the weights came from, or None.
    """

    def __init__(self, config: Optional[LocationEncoderConfig] = None) -> None:
        super().__init__()
        if config is None:
            config = LocationEncoderConfig()
        elif isinstance(config, dict):
            config = LocationEncoderConfig.from_dict(config)
        elif not isinstance(config, LocationEncoderConfig):
            raise TypeError(f"config must be a LocationEncoderConfig or a dict, got {type(config).__name__}")
        self.config = config
        self.position_encoder = build_position_encoder(config.position_encoder)
        in_dim = self.position_encoder.out_dim
        branches = self.position_encoder.num_branches
        if branches > 1:
            self.network: nn.Module = BranchSum(
                [build_network(config.network, in_dim // branches) for _ in range(branches)])
        else:
            self.network = build_network(config.network, in_dim)
        self.embed_dim: int = self.network.out_dim
        self.class_head = (nn.Linear(self.embed_dim, config.num_classes, bias=False)
                           if config.num_classes > 0 else None)
        self.pretrained_spec: Any = None

    # ------------------------------------------------------------------ properties
    @property
    def device(self) -> torch.device:
        for tensor in self.parameters():
            return tensor.device
        for buffer in self.buffers():
            return buffer.device
        return torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype:
        for tensor in self.parameters():
            return tensor.dtype
        return torch.float32

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    # ------------------------------------------------------------------ torch forward
    def forward(self, lonlat: Tensor) -> Tensor:
        """Embed canonical coordinates.

        Args:
            lonlat: (N, 2) float tensor of [lon, lat] in degrees on the model's device. It is
                cast to the model's dtype (float32 by default); no validation is done here, use
                ``encode`` or ``geoloc_embed.coords.to_canonical`` for untrusted input.

        Returns:
            (N, D) embedding, differentiable with respect to the parameters (and to ``lonlat``
            for every family except tile).
        """
        if lonlat.ndim != 2 or lonlat.shape[-1] != 2:
            raise CoordinateError(
                f"forward expects a (N, 2) tensor of [lon, lat] degrees, got shape {tuple(lonlat.shape)}; "
                "use encode(coords, order=...) for other layouts")
        lonlat = lonlat.to(self.dtype) if lonlat.dtype != self.dtype else lonlat
        return self.network(self.position_encoder(lonlat))

    def class_logits(self, embedding: Tensor) -> Tensor:
        """(N, D) embedding -> (N, num_classes) pre-sigmoid class scores."""
        if self.class_head is None:
            raise GeolocEmbedError(
                "this location encoder has no class head (config.num_classes == 0); use encode() for "
                "features, or load a fine-tuned model such as 'csp-inat-ft5'")
        return self.class_head(embedding)

    # ------------------------------------------------------------------ numpy-facing API
    def encode(
        self,
        coords: Any,
        order: str = "lonlat",
        *,
        batch_size: int = 65536,
        device: Union[str, torch.device, None] = None,
        dtype: Optional[torch.dtype] = None,
        progress: bool = False,
        wrap: bool = False,
        out: Optional[np.ndarray] = None,
    ) -> np.ndarray:
        """Embed points for feature extraction (eval mode, no gradients, batched).

        Args:
            coords: array-like (N, 2) or (2,) in the given ``order`` (degrees), a DataFrame with
                lon/lat columns, or shapely/geopandas points; see ``geoloc_embed.coords.to_canonical``.
            order: "lonlat" or "latlon" for positional input.
            batch_size: points moved to ``device`` and embedded per step.
            device: where to compute (default: where the model is).
            dtype: compute dtype; torch.float64 runs a float64 copy of the model, bfloat16/float16
                use autocast (GPU). Default: the model's dtype.
            progress: show a tqdm progress bar.
            wrap: wrap longitudes outside [-180, 180] instead of raising.
            out: optional preallocated (N, D) array (e.g. a ``np.memmap``) to write into.

        Returns:
            (N, D) np.ndarray (float32, or float64 with dtype=torch.float64). Equal to
            ``self(x)`` in eval mode under ``torch.no_grad()``.
        """
        return self._run_batched(coords, order, "embed", batch_size=batch_size, device=device,
                                 dtype=dtype, progress=progress, wrap=wrap, out=out)

    def logits(self, coords: Any, order: str = "lonlat", **kwargs: Any) -> np.ndarray:
        """(N, num_classes) pre-sigmoid class scores; same options as ``encode``."""
        if self.class_head is None:
            self.class_logits(torch.empty(0))  # raises the explanatory error
        return self._run_batched(coords, order, "logits", **kwargs)

    def prior(self, coords: Any, order: str = "lonlat", **kwargs: Any) -> np.ndarray:
        """Geo-prior: (N, num_classes) class presence probabilities sigmoid(e(x) . T_c).

        The sigmoid of ``logits`` (csp-spec.md section 3.3), independent per class and not
        normalised over classes; fuse it with image-classifier scores with
        ``geoloc_embed.prior.fuse``. Same options as ``logits`` / ``encode`` (``batch_size``,
        ``device``, ``dtype``, ``progress``, ``wrap``, ``out``); float32 (float64 with
        ``dtype=torch.float64``). Column c is the checkpoint's class c: see the model's
        ``class_order`` (``geoloc-embed info NAME``) for what the classes are.

        Raises:
            GeolocEmbedError: the model has no class head.
        """
        scores = self.logits(coords, order, **kwargs)
        try:
            torch.from_numpy(scores).sigmoid_()  # in place: no second (N, C) array
        except (TypeError, ValueError):  # an ``out`` array torch cannot view (e.g. negative strides)
            scores[...] = torch.sigmoid(torch.from_numpy(np.array(scores))).numpy()
        return scores

    def _compute_model(self, device: torch.device, dtype: Optional[torch.dtype]) -> "LocationEncoder":
        """self, or a copy on ``device`` in ``dtype`` when either differs (the caller's model is untouched)."""
        if dtype in (None, torch.bfloat16, torch.float16):
            dtype = self.dtype
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32, float64, bfloat16 or float16, got {dtype!r}")
        if device == self.device and dtype == self.dtype:
            return self
        return copy.deepcopy(self).to(device=device, dtype=dtype)

    def _run_batched(self, coords: Any, order: str, head: str = "embed", *, batch_size: int = 65536,
                     device: Union[str, torch.device, None] = None, dtype: Optional[torch.dtype] = None,
                     progress: bool = False, wrap: bool = False, out: Optional[np.ndarray] = None) -> np.ndarray:
        """``encode`` (``head="embed"``) and ``logits`` (``"logits"``): a batched loop over
        ``self(x)``, resp. ``self.class_logits(self(x))``, under ``torch.no_grad()`` in eval mode.

        Batches of ``batch_size`` points move to the device; each is run in chunks of
        ``_CPU_CHUNK_ROWS`` rows on the CPU (intermediates stay in cache) or ``_GPU_CHUNK_ROWS``
        elsewhere. On the CPU each chunk's result is copied straight into ``out`` when it is a
        C-contiguous writable array of the compute dtype; on an accelerator a batch's results are
        gathered on the device and copied to the host once. Every module keeps its own speed work in
        its ``forward``, so subclasses, hooks and any network give exactly ``self(x)``.
        """
        from ..coords import to_canonical

        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        target = torch.device(device) if device is not None else self.device
        model = self._compute_model(target, dtype)
        # Batches are cast to the compute dtype anyway (float32 rounding first, as the authors'
        # pipeline does): converting straight to it halves the memory held for the input.
        lonlat = to_canonical(coords, order=order, wrap=wrap,
                              dtype=torch.float64 if model.dtype == torch.float64 else torch.float32)
        autocast_dtype = dtype if dtype in (torch.bfloat16, torch.float16) else None
        width = model.embed_dim if head == "embed" else model.config.num_classes
        n = lonlat.shape[0]
        np_dtype = np.float64 if model.dtype == torch.float64 else np.float32
        out = _output_array(out, (n, width), np_dtype)
        chunk = _CPU_CHUNK_ROWS if target.type == "cpu" else _GPU_CHUNK_ROWS
        # a plain array of the compute dtype: the CPU copies each chunk straight into it and an
        # accelerator copies each batch into it once (no host temporary)
        writable = out.dtype == np_dtype and out.flags.c_contiguous
        direct = target.type == "cpu" and writable
        if target.type == "cpu":
            _keep_heap_warm()
        modes = [(module, module.training) for module in model.modules()]
        model.eval()
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=n, unit="pt", desc=head)
        try:
            with torch.no_grad(), torch.autocast(device_type=target.type, dtype=autocast_dtype or torch.bfloat16,
                                                 enabled=autocast_dtype is not None):
                for start in range(0, n, batch_size):
                    stop = min(start + batch_size, n)
                    batch = lonlat[start:stop].to(device=target, dtype=model.dtype)
                    result = (torch.from_numpy(out[start:stop]) if direct
                              else torch.empty((stop - start, width), dtype=model.dtype, device=target))
                    for lo in range(0, stop - start, chunk):
                        rows = batch[lo:lo + chunk]
                        values = model(rows) if head == "embed" else model.class_logits(model(rows))
                        if tuple(values.shape) != (rows.shape[0], width):
                            raise GeolocEmbedError(
                                f"{type(model).__name__}.forward returned shape {tuple(values.shape)} for "
                                f"{rows.shape[0]} points; {head} expects ({rows.shape[0]}, {width}) "
                                f"({'embed_dim' if head == 'embed' else 'config.num_classes'} = {width}); "
                                "set embed_dim to the width your forward returns")
                        result[lo:lo + rows.shape[0]].copy_(values)
                        del values  # free this chunk's result before the next forward allocates
                    if writable and not direct:
                        torch.from_numpy(out[start:stop]).copy_(result)  # the one device-to-host copy
                    elif not direct:
                        out[start:stop] = result.cpu().numpy()
                    if bar is not None:
                        bar.update(stop - start)
        finally:
            for module, training in modes:  # exactly the modes it had, submodules included
                module.training = training
            if bar is not None:
                bar.close()
        return out

    # ------------------------------------------------------------------ save / load
    def _save_pretrained(self, save_directory: Path) -> None:
        """Write model.safetensors, config.json and, when absent, a model card README.md into ``save_directory``."""
        io.write_model_files(save_directory, self.config, self.state_dict(), card=lambda: render_model_card(
            self.config, spec=self.pretrained_spec, num_params=self.num_parameters(), citation=CSP_CITATION))

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: Union[str, os.PathLike],
        *,
        force_download: bool = False,
        token: Union[str, bool, None] = None,
        cache_dir: Union[str, os.PathLike, None] = None,
        local_files_only: bool = False,
        revision: Optional[str] = None,
        map_location: Union[str, torch.device] = "cpu",
        timeout: Optional[float] = None,
        expected_sha256: Optional[str] = None,
    ) -> "LocationEncoder":
        """Load a pretrained location encoder.

        Args:
            pretrained_model_name_or_path: a registered name (``geoloc_embed.list_pretrained()``), a
                directory holding ``config.json`` + ``model.safetensors``, an original checkpoint file
                (CSP/TorchSpatial ``.pth.tar``, SatCLIP ``.ckpt``, GeoCLIP ``.pth``; converted on the fly),
                ``archive.zip#member`` or ``archive.zip#<registered name>``, ``hf-hub:org/repo[@revision]``;
                ``local-dir:PATH`` / ``zoo:NAME`` force a path / a registered name (see ``geoloc_embed.zoo.names``).
            force_download: skip the converted cache and previous downloads; download again.
            token: Hugging Face token.
            cache_dir: geoloc_embed's cache (default ``$GEOLOC_EMBED_CACHE`` or ``~/.cache/geoloc_embed``).
            local_files_only: never download, never open a socket (also when ``HF_HUB_OFFLINE`` is set).
            revision: Hugging Face revision for Hub sources.
            map_location: device of the returned model.
            timeout: download timeout in seconds (default 60).
            expected_sha256: the sha256 the registered model's source file must have (for ``csp-*`` the
                authors' archive, which has no published checksum); also ``GEOLOC_EMBED_SHA256_<NAME>``.

        Returns:
            The model in eval mode, with ``pretrained_spec`` set for registered names. Weights load
            strictly: a missing, unexpected or mis-shaped tensor is an error, raised before the
            model is allocated.
        """
        found = zoo.fetch(pretrained_model_name_or_path, revision=revision, cache_dir=cache_dir,
                          local_files_only=local_files_only, force_download=force_download, token=token,
                          timeout=timeout, expected_sha256=expected_sha256, validate=cls._check_layout)
        if found.directory is not None:
            model = cls.from_directory(found.directory, map_location=map_location)
        else:
            assert found.config is not None and found.state is not None
            model = cls.from_state_dict(found.config, found.state, source=found.source, map_location=map_location)
        model.pretrained_spec = found.spec
        return model

    @classmethod
    def from_directory(cls, directory: Union[str, os.PathLike],
                       map_location: Union[str, torch.device] = "cpu") -> "LocationEncoder":
        """Load ``config.json`` + ``model.safetensors`` from ``directory`` (strict; header checked first)."""
        directory = Path(directory)
        config = io.read_config(directory)
        weights = directory / io.WEIGHTS_NAME
        layout = io.read_weights_layout(weights)
        return cls._load_strict(config, layout, lambda expected: io.load_weights(weights, expected),
                                str(weights), map_location)

    @classmethod
    def from_state_dict(cls, config: LocationEncoderConfig, state_dict: Mapping[str, Tensor], *,
                        source: str = "<state dict>",
                        map_location: Union[str, torch.device] = "cpu") -> "LocationEncoder":
        """``cls(config)`` with ``state_dict`` loaded strictly, in eval mode (errors name ``source``).

        This is how converted weights load: ``LocationEncoder.from_state_dict(*geoloc_embed.convert.convert(path))``.
        """
        return cls._load_strict(config, io.layout_of(state_dict),
                                lambda expected: io.cast_to_layout(state_dict, expected), source, map_location)

    @classmethod
    def _load_strict(cls, config: LocationEncoderConfig, layout: Mapping[str, io.TensorInfo],
                     load: Callable[[Mapping[str, io.TensorInfo]], Mapping[str, Tensor]], source: str,
                     map_location: Union[str, torch.device]) -> "LocationEncoder":
        """The one strict-load path: check ``layout`` against the config's skeleton, then allocate and load."""
        expected = cls._check_layout(config, layout, source)
        model = cls(config)
        model.load_state_dict(dict(load(expected)), strict=True)
        if str(map_location) != "cpu":
            model.to(map_location)
        return model.eval()

    @classmethod
    def _check_layout(cls, config: LocationEncoderConfig, layout: Mapping[str, io.TensorInfo],
                      source: str) -> dict[str, io.TensorInfo]:
        """Raise ``WeightsError`` unless ``layout`` is exactly what ``cls(config)`` holds; return that layout.

        The expected layout comes from a skeleton built with its parameters on the meta device, so a
        config that implies a huge model costs nothing here.
        """
        with _ParametersOnMeta():
            skeleton = cls(config)
        expected = io.layout_of(skeleton.state_dict())
        io.check_layout(layout, expected, source)
        return expected

    def num_parameters(self) -> int:
        """Number of scalar parameters (trainable or not)."""
        return sum(p.numel() for p in self.parameters())

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_classes={self.config.num_classes}"


def _output_array(out: Optional[np.ndarray], shape: tuple[int, int], dtype: type) -> np.ndarray:
    """``out`` checked for ``encode(out=...)``, or a new (N, width) array of ``dtype``."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy array (np.empty or np.memmap) of shape {shape}, "
                        f"got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"out must have shape {shape}, got {out.shape}")
    if not np.issubdtype(out.dtype, np.floating):
        raise ValueError(f"out must have a floating dtype (float32 or float64), got {out.dtype}")
    if not out.flags.writeable:
        raise ValueError("out is read-only (a memmap opened with mode='r'?); open it with mode='r+' or 'w+'")
    return out


def _keep_heap_warm() -> None:
    """Let the memory of one chunk's forward be reused by the next instead of page-faulting back.

    Each ``self(x)`` call allocates and frees a few MB (the layers' outputs). glibc's malloc gives
    freed heap memory above its trim threshold back to the OS, and the next chunk then page-faults
    it in again: 30,000-50,000 minor faults per 65,536 points, about 20 % of encode's time, in a
    fresh process. glibc raises that threshold (to twice the block size) whenever a block it had
    mmapped is freed ("dynamic mmap threshold", mallopt(3)), which every program freeing a
    tensor of a few MB triggers; freeing one 16 MB block here does it before the loop. The block
    is never touched (no page is faulted in); other allocators are unaffected.
    """
    block = torch.empty(_HEAP_WARM_BYTES, dtype=torch.uint8)
    del block


class _ParametersOnMeta(TorchFunctionMode):
    """Inside: ``torch.empty`` (which ``nn.Linear``, ``nn.LayerNorm``, ``nn.Embedding``... use for their
    parameters) allocates on the meta device, and ``.cpu()`` of a meta tensor is a no-op.

    Building a model in this mode gives its exact state-dict layout without allocating its parameters.
    Other factories (``arange``, ``tensor``, ...) stay on the CPU, so constants computed (and cached) by
    position encoders are real; they are small, as the typed configs bound their sizes.
    """

    def __torch_function__(self, func: Callable[..., Any], types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = dict(kwargs or {})
        if func is torch.empty:
            kwargs["device"] = "meta"
        elif func is Tensor.cpu and args and isinstance(args[0], Tensor) and args[0].is_meta:
            return args[0]
        return func(*args, **kwargs)
