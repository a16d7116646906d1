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

Two implementations of the same arithmetic (``_evaluate`` picks one):

* ``_evaluate_inference`` when nothing is differentiated (CPU, float32/float64, ``lonlat`` not
  requiring grad or grad mode off; the encoder has no parameters, so this includes ordinary
  training steps): points in cache-sized blocks, preallocated buffers, ``out=``/in-place kernels,
  and every degree's 2l + 1 rows multiplied straight into the one (L**2, N) output. No
  (L**2, N) temporaries: on the CPU those cost more in page faults and memory traffic than the
  arithmetic (at L = 40 the output alone is 6.4 kB per point).
* ``_evaluate_autograd`` otherwise (``lonlat.requires_grad`` under grad mode, tracing for
  export, other devices and dtypes): whole batch, out-of-place, differentiable. Same kernels in
  the same order on each element, so on the CPU both give the same bits (a traced or exported
  model matches eager inference exactly).

SatCLIP's own table evaluates expanded monomials in float64 and loses accuracy with the degree:
against this recurrence (and scipy) it differs by 5e-12 at L = 10, but at L = 40 by up to 4.5e-5
for |lat| < 45 deg, 1e-2 at 45-60 deg and 0.6 near the poles (degrees >= ~25, m = 0 and small m).
The values here are the exact functions SatCLIP's table approximates.
"""

import functools
import math

import torch
from torch import Tensor

from ...config import SphericalHarmonicsConfig
from .base import PositionEncoder, register_position_encoder, sin_cos

__all__ = [
    "FLOAT32_RECURRENCE_MAX_DEGREES",
    "SphericalHarmonicsPositionEncoder",
    "real_spherical_harmonics",
]

_DEG2RAD = math.pi / 180.0

#: Largest L for which float32 output runs the recurrence in float32 (measured relative error vs a
#: float64 evaluation < 1e-6 up to L = 150); larger L runs it in float64.
FLOAT32_RECURRENCE_MAX_DEGREES = 160

#: Largest number of points per block of ``_evaluate_inference``; a block holds about 2**17 / L
#: points so that the recurrence's buffers stay in the CPU caches (on a 2-core VM 2,000-8,000
#: points per block are equally fast at L = 40; much smaller blocks pay Python overhead).
_INFERENCE_BLOCK_MAX = 16384


def _is_compiling() -> bool:
    """``torch.compiler.is_compiling()`` where it exists (torch >= 2.3), else False."""
    is_compiling = getattr(torch.compiler, "is_compiling", None)
    return bool(is_compiling()) if is_compiling is not None else False


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


def _longitude_factors(lonlat: Tensor, num_degrees: int, diag: Tensor, scale: Tensor,
                       compute: torch.dtype) -> Tensor:
    """Unsigned longitude factors, (2L - 1, N) in ``compute``; row L - 1 + m holds, for m = -(L-1)..L-1,
    sin(|m| phi) (m < 0) or cos(m phi) (m >= 0) times ``scale`` and ``diag[|m|]``.

    On the CPU the trigonometry and the product run in float64 and are rounded once; elsewhere the
    phases are reduced in float64 and sin/cos run in ``compute`` (``base.sin_cos``).
    """
    L = num_degrees
    phi = (lonlat[:, 0].to(torch.float64) + 180.0) * _DEG2RAD
    orders = _symmetric(torch.arange(L, dtype=torch.float64, device=lonlat.device))
    factor = torch.cat((scale[L:].flip(0), scale[:L])).unsqueeze(1) * _symmetric(diag)
    phase = orders * phi
    if lonlat.device.type == "cpu":
        return (torch.cat((torch.sin(phase[:L - 1]), torch.cos(phase[L - 1:]))) * factor).to(compute)
    sin, _ = sin_cos(phase[:L - 1], compute)
    _, cos = sin_cos(phase[L - 1:], compute)
    return torch.cat((sin, cos)) * factor.to(compute)


@functools.lru_cache(maxsize=32)
def _inference_constants(num_degrees: int, dtype: torch.dtype) -> tuple[list, list, list, list]:
    """``_coefficients`` cut per degree for ``_evaluate_inference`` (CPU, ``dtype``; read-only):
    a_g, c_g and g as (l, 1) columns, and the row order l-1, ..., 0 (m = l..1 onto m = -l..-1)."""
    L = num_degrees
    a_g, c_g, g, _ = (t.to(dtype) for t in _coefficients(L))
    return ([a_g[l, :l, None].clone() for l in range(L)], [c_g[l, :l, None].clone() for l in range(L)],
            [g[l, :l, None].clone() for l in range(L)], [torch.arange(l - 1, -1, -1) for l in range(L)])


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


def _use_inference_path(lonlat: Tensor, dtype: torch.dtype) -> bool:
    """True when ``_evaluate_inference`` applies (see the module docstring)."""
    return (lonlat.device.type == "cpu" and dtype in (torch.float32, torch.float64)
            and not (torch.is_grad_enabled() and lonlat.requires_grad)
            and not torch.jit.is_tracing() and not torch.jit.is_scripting()
            and not _is_compiling())


def _compute_dtype(num_degrees: int, dtype: torch.dtype) -> torch.dtype:
    return dtype if (dtype == torch.float64 or num_degrees <= FLOAT32_RECURRENCE_MAX_DEGREES) else torch.float64


def _evaluate(lonlat: Tensor, num_degrees: int, a_g: Tensor, c_g: Tensor, g: Tensor, diag: Tensor,
              scale: Tensor, dtype: torch.dtype) -> Tensor:
    """(N, L**2) features in ``dtype`` (a transposed view of an (L**2, N) tensor); constant tensors
    must be on ``lonlat``'s device."""
    if _use_inference_path(lonlat, dtype):
        return _evaluate_inference(lonlat, num_degrees, diag, scale, dtype)
    return _evaluate_autograd(lonlat, num_degrees, a_g, c_g, g, diag, scale, dtype)


def _evaluate_autograd(lonlat: Tensor, num_degrees: int, a_g: Tensor, c_g: Tensor, g: Tensor, diag: Tensor,
                       scale: Tensor, dtype: torch.dtype) -> Tensor:
    """Out-of-place evaluation (differentiable, traceable), whole batch at once.

    Works feature-major, (features, N): rows L - 1 + m of the "symmetric" tables are m = -l..l, so
    that degree l's block is one slice. Element by element the same kernels as
    ``_evaluate_inference``.
    """
    L = num_degrees
    compute = _compute_dtype(L, dtype)
    minus_delta, s, sign = _latitude_terms(lonlat, compute)
    minus_delta, s, sign = minus_delta.unsqueeze(0), s.unsqueeze(0), sign.unsqueeze(0)
    # (-1)**m where x < 0 on the rows with odd |m|; a copy times -1 there serves the odd degrees,
    # so that Pbar_l^m(x) = (-1)**(l + m) Pbar_l^m(|x|) costs nothing on the table.
    odd_m = (torch.arange(2 * L - 1, device=lonlat.device) - (L - 1)).remainder(2).bool().unsqueeze(1)
    even = _longitude_factors(lonlat, L, diag, scale, compute)
    even = even * torch.where(odd_m, sign, torch.ones_like(sign))
    odd = even * sign
    a_g, c_g, g = a_g.to(compute), c_g.to(compute), g.to(compute)

    blocks = [even[L - 1:L].to(dtype)]                         # l = 0: the table's entry is 1
    prev = torch.ones_like(s)                                  # Pbar_0^0 (scaled), m = 0..l-1
    e = torch.zeros_like(s)[:0]                                # E_{l-1}, m = 0..l-2
    for l in range(1, L):
        coef = a_g[l, :l, None] * minus_delta + c_g[l, :l, None]
        e = torch.addcmul(torch.cat((e, torch.zeros_like(s))), coef, prev)
        cur = torch.cat((torch.addcmul(prev, g[l, :l, None], e), prev[l - 1:l] * s))   # m = 0..l
        trig = even if l % 2 == 0 else odd
        blocks.append((torch.cat((cur[1:].flip(0), cur)) * trig[L - 1 - l:L + l]).to(dtype))
        prev = cur
    return torch.cat(blocks).t()


def _evaluate_inference(lonlat: Tensor, num_degrees: int, diag: Tensor, scale: Tensor, dtype: torch.dtype,
                        block: int | None = None) -> Tensor:
    """No-autograd CPU evaluation, block of points by block, into one preallocated (L**2, N) tensor.

    Per block: the longitude factors (2L - 1, n) once, then per degree 7 kernels on (l, n) tiles
    that stay in cache, the last one writing the degree's 2l + 1 output rows. Buffers are reused
    across blocks; ``block`` (points per block) is for tests.
    """
    L = num_degrees
    compute = _compute_dtype(L, dtype)
    n_total = lonlat.shape[0]
    out = torch.empty((L * L, n_total), dtype=dtype)
    if n_total == 0:
        return out.t()
    minus_delta, s_all, sign_all = _latitude_terms(lonlat, compute)
    phi = (lonlat[:, 0].to(torch.float64) + 180.0) * _DEG2RAD
    orders = _symmetric(torch.arange(L, dtype=torch.float64))
    factor = torch.cat((scale[L:].flip(0), scale[:L])).unsqueeze(1) * _symmetric(diag)
    a_cols, c_cols, g_cols, mirror = _inference_constants(L, compute)

    block = max(1, min(block or max(1024, min(_INFERENCE_BLOCK_MAX, 131072 // L)), n_total))
    rows = 2 * L - 1
    phase_buf = torch.empty((rows, block), dtype=torch.float64)
    buffers = {name: torch.empty((rows if name in ("even", "odd", "qa", "qb") else L, block), dtype=compute)
               for name in ("even", "odd", "qa", "qb", "e", "coef")}
    out_blocks = [out[l * l:(l + 1) * (l + 1)] for l in range(L)]

    def plan(n: int) -> tuple[dict, list]:
        """Views of the buffers for a block of n points, and each degree's arguments."""
        v = {name: t[:, :n] for name, t in buffers.items()}
        v["phase"] = phase_buf[:, :n]
        steps = []
        for l in range(1, L):
            prev, cur = (v["qa"], v["qb"]) if l % 2 else (v["qb"], v["qa"])
            trig = v["even"] if l % 2 == 0 else v["odd"]
            steps.append((a_cols[l], c_cols[l], v["coef"][:l], v["e"][:l], prev[L - 1:L - 1 + l], g_cols[l],
                          cur[L - 1:L - 1 + l], prev[L - 2 + l], cur[L - 1 + l], cur[L:L + l], mirror[l],
                          cur[L - 1 - l:L - 1], cur[L - 1 - l:L + l], trig[L - 1 - l:L + l], out_blocks[l]))
        return v, steps

    full = plan(block)
    for lo in range(0, n_total, block):
        hi = min(lo + block, n_total)
        v, steps = full if hi - lo == block else plan(hi - lo)
        md, s, sign = minus_delta[lo:hi].unsqueeze(0), s_all[lo:hi], sign_all[lo:hi].unsqueeze(0)
        phase, even = v["phase"], v["even"]
        torch.mul(orders, phi[lo:hi].unsqueeze(0), out=phase)
        torch.sin(phase[:L - 1], out=phase[:L - 1])
        torch.cos(phase[L - 1:], out=phase[L - 1:])
        torch.mul(phase, factor, out=even)                      # float64 product, rounded once
        even[L % 2::2].mul_(sign)                               # rows with odd |m|: (-1)**m where x < 0
        torch.mul(even, sign, out=v["odd"])                     # odd degrees: (-1)**(l + m)
        out[0, lo:hi].copy_(even[L - 1])                        # l = 0: the table's entry is 1
        v["qa"][L - 1].fill_(1.0)                               # Pbar_0^0 (scaled)
        v["e"].zero_()                                          # E^m = 0 before row m starts
        for (a_l, c_l, coef, e, prev, g_l, cur, prev_diag, cur_diag, cur_right, mirror_l, cur_left,
             cur_sym, trig_sym, out_l) in steps:
            torch.mul(a_l, md, out=coef)
            coef.add_(c_l)                                      # (c - a delta) / g
            e.addcmul_(coef, prev)                              # E_l = coef Pbar_{l-1} + E_{l-1}
            torch.addcmul(prev, g_l, e, out=cur)                # Pbar_l^m, m < l
            torch.mul(prev_diag, s, out=cur_diag)               # Pbar_l^l (scaled) = sin(theta)**l
            torch.index_select(cur_right, 0, mirror_l, out=cur_left)  # m = -l..-1 mirror m = l..1
            torch.mul(cur_sym, trig_sym, out=out_l[:, lo:hi])
    return out.t()


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
    a_g, c_g, g, diag = (t.to(lonlat.device) for t in _coefficients(int(num_degrees)))
    scale = _longitude_scale(int(num_degrees), float(m0_scale)).to(lonlat.device)
    return _evaluate(lonlat, int(num_degrees), a_g, c_g, g, diag, scale, dtype)


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

    def forward(self, lonlat: Tensor) -> Tensor:
        return _evaluate(lonlat, self.num_degrees, self.a_g, self.c_g, self.g, self.diag, self.scale,
                         lonlat.dtype)

    def extra_repr(self) -> str:
        return f"num_degrees={self.num_degrees}, out_dim={self.out_dim}"
