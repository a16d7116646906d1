"""SatCLIP's spherical-harmonics position encoder, computed with a normalised Legendre recurrence.

SatCLIP (microsoft/satclip, ``satclip/positional_encoding/spherical_harmonics.py`` with the
SymPy-generated table ``spherical_harmonics_ylm.py`` it ships, "analytic" mode) defines, for
canonical (lon, lat) in degrees:

* angles ``phi = radians(lon + 180)`` in [0, 2 pi] and ``theta = radians(lat + 90)`` in [0, pi]
  (theta is measured from the *south* pole, so ``cos(theta) = -sin(lat)``, ``sin(theta) = cos(lat)``);
* features for l = 0..L-1 and, inside each l, m = -l..l (feature index l**2 + l + m)::

      m < 0:  sqrt(2) * Pbar_l^|m|(cos theta) * sin(|m| phi)
      m = 0:  pi      * Pbar_l^0(cos theta)
      m > 0:  sqrt(2) * Pbar_l^m(cos theta)  * cos(m phi)

  where ``Pbar_l^m = sqrt((2l+1)/(4 pi) (l-m)!/(l+m)!) P_l^m`` is the orthonormalised associated
  Legendre function *without* the Condon-Shortley phase (the generator multiplies SymPy's
  ``assoc_legendre``, which has the phase, by ``(-1)**m`` again).
* The factor ``pi`` on m = 0 is SatCLIP's: the generator writes ``sqrt((2*l + 1) / 4 * pi)`` for
  m = 0, i.e. ``pi`` times the orthonormal value (``Yl0_m0 = 0.886 = sqrt(pi / 4)``). The released
  checkpoints were trained with it (TorchGeo's port keeps it too), so it is part of the feature
  definition. ``real_spherical_harmonics(..., m0_scale=1.0)`` gives the orthonormal basis.

Instead of SatCLIP's generated table (expanded monomials whose float64 cancellation error grows
with l) the functions come from the fully normalised three-term recurrence, vectorised over
points and orders m (one step per degree l)::

    Pbar_0^0 = 1 / sqrt(4 pi)
    Pbar_m^m = sqrt((2m + 1) / (2m)) * sin(theta) * Pbar_{m-1}^{m-1}
    Pbar_l^m = a_lm * cos(theta) * Pbar_{l-1}^m - b_lm * Pbar_{l-2}^m        (m < l)
    a_lm = sqrt((4 l**2 - 1) / (l**2 - m**2)),
    b_lm = sqrt(((l - 1)**2 - m**2) * (2l + 1) / ((l**2 - m**2) * (2l - 3)))

No factorials appear, every intermediate is O(sqrt(l)) and sin(theta)**m underflows harmlessly to
0 near the poles, so the values are finite in float32 for any L. The recurrence runs at |x| in
Reinsch's difference form (``_coefficients``), which keeps float32 rounding at the level of float32
itself: measured max abs error against float64 on the same inputs 1e-6 (L = 10), 4e-6 (L = 40),
1e-5 (L = 100, values up to 12.5), i.e. < 1e-6 relative (the plain form loses eps * l**2 near
the poles: 1.6e-4 at L = 40). So float32 output is computed in float32 (angles, the phases
``m * phi`` and the longitude factors in float64); float64 is used above
``FLOAT32_RECURRENCE_MAX_DEGREES`` only.

One implementation (``_evaluate``), blocked: points in cache-sized blocks on the CPU, each degree's
2l + 1 rows multiplied straight into the one (L**2, N) output. When autograd does not record (grad
mode off or ``lonlat`` not requiring grad; the encoder has no parameters, so this includes ordinary
training steps) its kernels write into preallocated buffers (``out=``/in place): no (L**2, N)
temporaries, which on the CPU cost more in page faults and memory traffic than the arithmetic (at
L = 40 the output alone is 6.4 kB per point). Otherwise (coordinate gradients, tracing for export,
compiling) the same kernels run out of place on the whole batch. Each element sees the same
operations in the same order either way, so both give the same bits (a traced or exported model
matches eager inference exactly).

SatCLIP's own table evaluates expanded monomials in float64 and loses accuracy with the degree:
against this recurrence (and scipy) it differs by 5e-12 at L = 10, but at L = 40 by up to 4.5e-5
for |lat| < 45 deg, 1e-2 at 45-60 deg and 0.6 near the poles (degrees >= ~25, m = 0 and small m).
The values here are the exact functions SatCLIP's table approximates.
"""

import functools
import math
from typing import NamedTuple, Optional

import torch
from torch import Tensor

from ...config import SphericalHarmonicsConfig
from .._inplace import may_overwrite
from .base import TWO_PI, PositionEncoder, register_position_encoder

__all__ = [
    "FLOAT32_RECURRENCE_MAX_DEGREES",
    "SphericalHarmonicsPositionEncoder",
    "real_spherical_harmonics",
]

_DEG2RAD = math.pi / 180.0

#: Largest L for which float32 output runs the recurrence in float32 (measured relative error vs a
#: float64 evaluation < 1e-6 up to L = 150); larger L runs it in float64.
FLOAT32_RECURRENCE_MAX_DEGREES = 160

#: Points per block of the in-place evaluation on the CPU: about ``_BLOCK_ELEMENTS / L`` (at least
#: 1024, at most ``_BLOCK_MAX``), so that the recurrence's buffers stay in the CPU caches (on a 2-core
#: VM 2,000-8,000 points per block are equally fast at L = 40; much smaller blocks pay Python overhead).
_BLOCK_ELEMENTS = 131072
_BLOCK_MAX = 16384


@functools.lru_cache(maxsize=16)
def _coefficients(num_degrees: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Recurrence constants for L = ``num_degrees`` (float64 CPU tensors).

    With ``Pbar_l^m = a_lm x Pbar_{l-1}^m - b_lm Pbar_{l-2}^m`` (module docstring; a_l,l-1 =
    sqrt(2l + 1) and b_l,l-1 = 0 start the sub-diagonal, so one formula covers every m < l),
    x = 1 - delta at |x| and Reinsch's difference D_l = Pbar_l - Pbar_{l-1}, the step is
    ``D_l = (c_lm - a_lm delta) Pbar_{l-1} + b_lm D_{l-1}`` with c = a - b - 1: the same recurrence,
    but it does not amplify rounding near |x| = 1 (the plain form loses ~eps * l**2 there: 1.6e-4
    in float32 at L = 40; this one stays below 1e-6 relative up to L = 150). Writing D_l = g_lm E_l
    with g_lm = prod_{k = m+2..l} b_km (1 at l = m + 1) removes the b term::

        E_l = (c_lm / g_lm - (a_lm / g_lm) delta) Pbar_{l-1} + E_{l-1},    Pbar_l = Pbar_{l-1} + g_lm E_l

    g telescopes to g_lm**2 = (4 l**2 - 1) / ((l**2 - m**2) (2m + 3)) for l >= m + 2, between
    sqrt(3 / (2m + 3)) and 1.16: nothing overflows or cancels, and the float32 error is the same
    as with D (measured up to L = 160).

    The table rows are Pbar_l^m / Pbar_m^m(theta = 90 deg) (a three-term recurrence in l is
    unchanged by scaling row m by a constant), so the diagonal is sin(theta)**m and the constant
    goes into the longitude factors.

    Returns (a_g, c_g, g, diag):
        a_g, c_g, g: (L, L); row l holds, for m = 0..l-1, a_lm / g_lm, c_lm / g_lm and g_lm;
        diag: (L,), diag[m] = Pbar_m^m / sin(theta)**m = prod_k sqrt((2k+1)/(2k)) / sqrt(4 pi).
    """
    L = num_degrees
    a = torch.zeros(L, L, dtype=torch.float64)
    b = torch.zeros(L, L, dtype=torch.float64)
    for l in range(1, L):
        m = torch.arange(l, dtype=torch.float64)
        denom = l * l - m * m
        a[l, :l] = torch.sqrt((4.0 * l * l - 1.0) / denom)
        if l >= 2:
            b[l, :l] = torch.sqrt((((l - 1) ** 2 - m * m) * (2.0 * l + 1.0)).clamp(min=0.0)
                                  / (denom * (2.0 * l - 3.0)))
    g = torch.ones(L, L, dtype=torch.float64)
    for l in range(2, L):
        g[l, :l - 1] = g[l - 1, :l - 1] * b[l, :l - 1]
    k = torch.arange(1, L, dtype=torch.float64)
    diag = torch.cat((torch.ones(1, dtype=torch.float64), torch.cumprod(torch.sqrt((2 * k + 1) / (2 * k)), 0)))
    diag = diag / math.sqrt(4.0 * math.pi)
    return a / g, (a - b - 1.0) / g, g, diag


def _longitude_scale(num_degrees: int, m0_scale: float) -> Tensor:
    """(2L - 1,) float64 factors of the longitude rows: ``m0_scale`` for m = 0, sqrt(2) otherwise."""
    scale = torch.full((2 * num_degrees - 1,), math.sqrt(2.0), dtype=torch.float64)
    scale[0] = m0_scale
    return scale


def _symmetric(values: Tensor) -> Tensor:
    """(L,) indexed by |m| -> (2L - 1, 1) indexed by L - 1 + m, m = -(L-1)..L-1."""
    return torch.cat((values.flip(0)[:-1], values)).unsqueeze(1)


class _Tables(NamedTuple):
    """Constants of one evaluation, on the points' device (``_tables``)."""

    orders: Tensor          # (2L - 1, 1) float64: |m| of the symmetric rows m = -(L-1)..L-1
    factor: Tensor          # (2L - 1, 1) float64: longitude scale times diag[|m|]
    odd_orders: Tensor      # (2L - 1, 1) bool: rows with odd |m|
    a: list[Tensor]         # per degree l: (l, 1) columns a_lm / g_lm, m = 0..l-1, in the compute dtype
    c: list[Tensor]         # (l, 1) c_lm / g_lm
    g: list[Tensor]         # (l, 1) g_lm
    mirror: list[Tensor]    # (l,) int64 row order l-1..0: maps m = l..1 onto m = -l..-1


def _tables(a_g: Tensor, c_g: Tensor, g: Tensor, diag: Tensor, scale: Tensor, compute: torch.dtype) -> _Tables:
    """``_coefficients`` and ``_longitude_scale`` (float64, on the points' device) cut per degree."""
    L = diag.shape[0]
    device = diag.device
    orders = _symmetric(torch.arange(L, dtype=torch.float64, device=device))
    factor = torch.cat((scale[L:].flip(0), scale[:L])).unsqueeze(1) * _symmetric(diag)
    odd_orders = (torch.arange(2 * L - 1, device=device) - (L - 1)).remainder(2).bool().unsqueeze(1)
    a_g, c_g, g = a_g.to(compute), c_g.to(compute), g.to(compute)
    return _Tables(orders, factor, odd_orders, [a_g[l, :l, None] for l in range(L)],
                   [c_g[l, :l, None] for l in range(L)], [g[l, :l, None] for l in range(L)],
                   [torch.arange(l - 1, -1, -1, device=device) for l in range(L)])


@functools.lru_cache(maxsize=32)
def _cached_tables(num_degrees: int, m0_scale: float, compute: torch.dtype, device: torch.device) -> _Tables:
    """``_tables`` built once per (L, m0 scale, dtype, device): slicing them costs more than a small block."""
    with torch.inference_mode(False), torch.no_grad():  # ordinary tensors, usable later under autograd
        a_g, c_g, g, diag = (t.to(device) for t in _coefficients(num_degrees))
        tables = _tables(a_g, c_g, g, diag, _longitude_scale(num_degrees, m0_scale).to(device), compute)
        return tables._replace(a=[t.clone() for t in tables.a], c=[t.clone() for t in tables.c],
                               g=[t.clone() for t in tables.g])


def _latitude_terms(lonlat: Tensor, compute: torch.dtype) -> tuple[Tensor, Tensor, Tensor]:
    """(|x| - 1, sin(theta), sign) for x = cos(theta) = -sin(lat), shapes (N,) in ``compute``.

    ``sign`` is -1 where x < 0 (x = -0.0 at the equator is not); ``|x| - 1`` is exact near the poles
    and its gradient at x = 0 is the x >= 0 side's, matching ``sign`` = +1 there.
    """
    lat = lonlat[:, 1].to(torch.float64) * _DEG2RAD
    sin_lat = torch.sin(lat)
    negative = sin_lat > 0
    absx = torch.where(negative, sin_lat, -sin_lat)
    s = torch.cos(lat).clamp(min=0.0).to(compute)
    sign = 1.0 - 2.0 * negative.to(compute)
    return (absx - 1.0).to(compute), s, sign


def _compute_dtype(num_degrees: int, dtype: torch.dtype) -> torch.dtype:
    return dtype if (dtype == torch.float64 or num_degrees <= FLOAT32_RECURRENCE_MAX_DEGREES) else torch.float64


class _Workspace:
    """Buffers of the in-place evaluation for blocks of up to ``block`` points, and their views.

    ``phase`` (float64) and ``even``, ``odd``, ``qa``, ``qb`` (compute dtype) have the 2L - 1
    symmetric rows m = -(L-1)..L-1; ``e`` and ``coef`` have L rows m = 0..L-1. Degree l writes the
    rows m = -l..l of ``qb`` (l odd) or ``qa`` (l even) and reads the other one's m = 0..l-1.
    """

    def __init__(self, num_degrees: int, block: int, compute: torch.dtype, device: torch.device) -> None:
        L, rows = num_degrees, 2 * num_degrees - 1
        self.num_degrees = L
        self.phase = torch.empty((rows, block), dtype=torch.float64, device=device)
        self.even, self.odd, self.qa, self.qb = (torch.empty((rows, block), dtype=compute, device=device)
                                                 for _ in range(4))
        self.e, self.coef = (torch.empty((L, block), dtype=compute, device=device) for _ in range(2))
        self._views: dict[int, list] = {}

    def degree_views(self, n: int) -> list:
        """Per degree l (index l; entry 0 unused): the (coef, e, low, top, positive, left, sym) views
        for a block of n points; built once per block size."""
        if n not in self._views:
            L = self.num_degrees
            steps: list = [None]
            for l in range(1, L):
                cur = (self.qb if l % 2 else self.qa)[:, :n]
                steps.append((self.coef[:l, :n], self.e[:l, :n], cur[L - 1:L - 1 + l], cur[L - 1 + l:L + l],
                              cur[L - 1:L + l], cur[L - 1 - l:L - 1], cur[L - 1 - l:L + l]))
            self._views[n] = steps
        return self._views[n]


def _columns(values: Tensor, lo: int, hi: Optional[int]) -> Tensor:
    """``values[..., lo:hi]`` of the last axis; ``values`` itself for ``hi=None`` (a trace must not
    record the batch size as a constant)."""
    return values if hi is None else values[..., lo:hi]


def _evaluate(lonlat: Tensor, num_degrees: int, m0_scale: float, dtype: torch.dtype,
              buffers: Optional[tuple[Tensor, Tensor, Tensor, Tensor, Tensor]] = None,
              block: Optional[int] = None) -> Tensor:
    """(N, L**2) features in ``dtype`` (a transposed view of an (L**2, N) tensor).

    One implementation. When autograd does not record (``may_overwrite``: grad mode off or
    ``lonlat`` not requiring grad, and no trace, script, compile or export) the points run in blocks
    (cache-sized on the CPU, the whole batch elsewhere) through preallocated buffers with
    ``out=``/in-place kernels, and every degree's 2l + 1 rows are multiplied straight into the one
    (L**2, N) output. Otherwise the same kernels run out of place on the whole batch (differentiable,
    and a traced graph does not depend on the batch size). Every element sees the same operations in
    the same order either way, so both give the same bits.

    Args:
        lonlat: (N, 2) [lon, lat] degrees.
        num_degrees: L.
        m0_scale: factor of the m = 0 functions (SatCLIP: pi).
        dtype: output dtype.
        buffers: the encoder's float64 (a_g, c_g, g, diag, scale) buffers, used when a graph may be
            captured (so that it holds module state); otherwise cached copies of the same constants.
        block: points per block of the in-place evaluation (default: cache-sized); for tests.
    """
    L = num_degrees
    compute = _compute_dtype(L, dtype)
    inplace = may_overwrite(lonlat)
    device = lonlat.device
    on_cpu = device.type == "cpu"
    tables = (_tables(*buffers, compute) if buffers is not None and not inplace
              else _cached_tables(L, float(m0_scale), compute, device))
    factor = tables.factor if on_cpu or compute == torch.float64 else tables.factor.to(compute)
    minus_delta, s_all, sign_all = _latitude_terms(lonlat, compute)
    phi_all = (lonlat[:, 0].to(torch.float64) + 180.0) * _DEG2RAD

    space: Optional[_Workspace] = None
    out: Optional[Tensor] = None
    bounds: list[tuple[int, Optional[int]]] = [(0, None)]  # out of place: the whole batch, never sliced
    if inplace:
        n = lonlat.shape[0]
        size = n if not on_cpu else (block or max(1024, min(_BLOCK_MAX, _BLOCK_ELEMENTS // L)))
        size = max(1, min(size, n))
        space = _Workspace(L, size, compute, device)
        out = torch.empty((L * L, n), dtype=dtype, device=device)
        bounds = [(lo, min(lo + size, n)) for lo in range(0, n, size)]
    rows: list[Tensor] = []  # per degree, out of place only
    for lo, hi in bounds:
        width = 0 if hi is None else hi - lo
        md, s = _columns(minus_delta, lo, hi).unsqueeze(0), _columns(s_all, lo, hi).unsqueeze(0)
        sign, phi = _columns(sign_all, lo, hi).unsqueeze(0), _columns(phi_all, lo, hi).unsqueeze(0)
        target = None if out is None else _columns(out, lo, hi)
        # Longitude factors (2L - 1, n): sin(|m| phi) for m < 0, cos(m phi) for m >= 0, times the
        # scale and diag[|m|]; on the CPU in float64 and rounded once, elsewhere the phases are
        # reduced in float64 and sin/cos run in the compute dtype (``base.sin_cos``).
        phase = torch.mul(tables.orders, phi, out=None if space is None else space.phase[:, :width])
        trig = phase if on_cpu or compute == torch.float64 else torch.remainder(phase, TWO_PI).to(compute)
        sin = torch.sin(trig[:L - 1], out=trig[:L - 1] if inplace else None)
        cos = torch.cos(trig[L - 1:], out=trig[L - 1:] if inplace else None)
        trig = trig if inplace else torch.cat((sin, cos))
        even = torch.mul(trig, factor, out=None if space is None else space.even[:, :width]).to(compute)
        # (-1)**m where x < 0 on the rows with odd |m| (so that Pbar_l^m(x) = (-1)**(l+m) Pbar_l^m(|x|)),
        # and one more factor sign for the odd degrees
        if inplace:
            even[L % 2::2].mul_(sign)
        else:
            even = even * torch.where(tables.odd_orders, sign, torch.ones_like(sign))
        odd = torch.mul(even, sign, out=None if space is None else space.odd[:, :width])
        if target is None:  # l = 0: the table's entry is 1
            rows.append(even[L - 1:L].to(dtype))
        else:
            target[:1].copy_(even[L - 1:L])
        # Pbar_0^0 (scaled) and E_0 (no rows): the recurrence's start
        if space is None:
            prev, e = torch.ones_like(s), torch.zeros_like(s)[:0]
        else:
            prev = space.qa[L - 1:L, :width].fill_(1.0)
            space.e[:, :width].zero_()  # E^m = 0 before row m starts
        steps = space.degree_views(width) if space is not None else None
        for l in range(1, L):
            coef_v, e_v, low_v, top_v, positive_v, left_v, sym_v = steps[l] if steps else _NO_VIEWS
            coef = torch.add(torch.mul(tables.a[l], md, out=coef_v), tables.c[l], out=coef_v)  # (c - a delta) / g
            # E_l = coef Pbar_{l-1} + E_{l-1}; row l - 1 of E starts at 0
            e = torch.addcmul(e_v if e_v is not None else torch.cat((e, torch.zeros_like(s))), coef, prev,
                              out=e_v)
            low = torch.addcmul(prev, tables.g[l], e, out=low_v)              # Pbar_l^m, m < l
            top = torch.mul(prev[-1:], s, out=top_v)                          # Pbar_l^l (scaled) = sin(theta)**l
            positive = positive_v if positive_v is not None else torch.cat((low, top))                 # m = 0..l
            left = torch.index_select(positive[1:], 0, tables.mirror[l], out=left_v)  # m = -l..-1 mirror m = l..1
            symmetric = sym_v if sym_v is not None else torch.cat((left, positive))                    # m = -l..l
            trig_l = (even if l % 2 == 0 else odd)[L - 1 - l:L + l]
            result = torch.mul(symmetric, trig_l, out=None if target is None else target[l * l:(l + 1) ** 2])
            if target is None:
                rows.append(result.to(dtype))
            prev = positive
    return out.t() if out is not None else torch.cat(rows).t()


_NO_VIEWS = (None,) * 7


def real_spherical_harmonics(lonlat: Tensor, num_degrees: int, *, m0_scale: float = math.pi,
                             dtype: torch.dtype | None = None) -> Tensor:
    """Real spherical harmonics of degrees 0..``num_degrees``-1 at canonical (lon, lat) degrees.

    Args:
        lonlat: (N, 2) [lon, lat] in degrees.
        num_degrees: L; the output has L**2 columns ordered l = 0..L-1, then m = -l..l.
        m0_scale: factor of the m = 0 functions relative to the orthonormal ones. The default
            ``pi`` is SatCLIP's convention; ``1.0`` gives an orthonormal basis on the unit sphere.
        dtype: output dtype (default: ``lonlat.dtype`` if floating, else float32).

    Returns:
        (N, L**2) tensor (a transposed view of a feature-major tensor); see the module docstring
        for the angle and sign conventions.
    """
    if dtype is None:
        dtype = lonlat.dtype if lonlat.is_floating_point() else torch.float32
    return _evaluate(lonlat, int(num_degrees), float(m0_scale), dtype)


@register_position_encoder("spherical-harmonics")
class SphericalHarmonicsPositionEncoder(PositionEncoder):
    """SatCLIP's real spherical harmonics with L = ``config.sh_degree`` Legendre degrees.

    Input: (N, 2) [lon, lat] degrees. Output: (N, L**2) in the input dtype, ordered l = 0..L-1,
    m = -l..l, with SatCLIP's angles, signs and m = 0 scaling (module docstring). No state is
    saved: all constants are float64 buffers rebuilt from the config.
    """

    def __init__(self, config: SphericalHarmonicsConfig) -> None:
        super().__init__(config)
        self.num_degrees = config.sh_degree
        a_g, c_g, g, diag = _coefficients(self.num_degrees)
        self.register_float64_buffer("a_g", a_g.clone())  # clones: the cached originals stay untouched
        self.register_float64_buffer("c_g", c_g.clone())
        self.register_float64_buffer("g", g.clone())
        self.register_float64_buffer("diag", diag.clone())
        self.register_float64_buffer("scale", _longitude_scale(self.num_degrees, math.pi))
        self.out_dim = self.num_degrees ** 2

    a_g: Tensor  # buffers registered in __init__ (annotated for type checkers)
    c_g: Tensor
    g: Tensor
    diag: Tensor
    scale: Tensor

    def forward(self, lonlat: Tensor) -> Tensor:
        """(N, 2) [lon, lat] degrees -> (N, L**2) in ``lonlat.dtype`` (a transposed view, see ``_evaluate``)."""
        return _evaluate(lonlat, self.num_degrees, math.pi, lonlat.dtype,
                         buffers=(self.a_g, self.c_g, self.g, self.diag, self.scale))

    def extra_repr(self) -> str:
        return f"num_degrees={self.num_degrees}, out_dim={self.out_dim}"
