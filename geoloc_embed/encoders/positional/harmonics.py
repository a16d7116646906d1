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
Reinsch's difference form (``_evaluate``), which keeps float32 rounding at the level of float32
itself: measured max abs error against float64 on the same inputs 1e-6 (L = 10), 3e-6 (L = 40),
1e-5 (L = 100, values up to 12.5), i.e. < 1e-6 relative (the plain form loses eps * l**2 near
the poles: 1.6e-4 at L = 40). So float32 output is computed in float32 (angles and the phases
``m * phi`` in float64); float64 is used above ``FLOAT32_RECURRENCE_MAX_DEGREES`` only.

SatCLIP's own table evaluates expanded monomials in float64 and loses accuracy with the degree:
against this recurrence (and scipy) it differs by 5e-12 at L = 10, but at L = 40 by up to 4.5e-5
for |lat| < 45 deg, 1e-2 at 45-60 deg and 0.6 near the poles (degrees >= ~25, m = 0 and small m).
The values here are the exact functions SatCLIP's table approximates.
"""

import functools
import math

import torch
from torch import Tensor

from ...config import LocationEncoderConfig
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


@functools.lru_cache(maxsize=16)
def _coefficients(num_degrees: int) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Recurrence and assembly constants for L = ``num_degrees`` (CPU tensors).

    Returns (a, b, c, diag, pidx, tidx):
        a, b: (L, L) float64; row l holds, for m = 0..l-1, the coefficients of
            ``Pbar_l^m = a_lm x Pbar_{l-1}^m - b_lm Pbar_{l-2}^m`` (a_l,l-1 = sqrt(2l + 1) and
            b_l,l-1 = 0 start the sub-diagonal, so one formula covers every m < l);
        c: (L, L) float64, a - b - 1 (Reinsch's form of the recurrence, see ``_evaluate``);
        diag: (L,) float64, diag[m] = Pbar_m^m / sin(theta)**m = prod_k sqrt((2k+1)/(2k)) / sqrt(4 pi);
        pidx: (L**2,) int64 row of Pbar_l^|m| in the triangular table (row l*(l+1)/2 + m);
        tidx: (L**2,) int64 row of the longitude factor in [m = 0..L-1 (cos), m = 1..L-1 (sin)],
            offset by 2L - 1 for odd l (the parity-flipped copy, see ``_evaluate``).
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
    k = torch.arange(1, L, dtype=torch.float64)
    diag = torch.cat((torch.ones(1, dtype=torch.float64), torch.cumprod(torch.sqrt((2 * k + 1) / (2 * k)), 0)))
    diag = diag / math.sqrt(4.0 * math.pi)
    pidx, tidx = [], []
    for l in range(L):
        for m in range(-l, l + 1):
            pidx.append(l * (l + 1) // 2 + abs(m))
            tidx.append((m if m >= 0 else L - 1 + abs(m)) + (2 * L - 1) * (l % 2))
    return a, b, a - b - 1.0, diag, torch.tensor(pidx), torch.tensor(tidx)


def _longitude_scale(num_degrees: int, m0_scale: float) -> Tensor:
    """(2L - 1,) float64 factors of the longitude rows: ``m0_scale`` for m = 0, sqrt(2) otherwise."""
    scale = torch.full((2 * num_degrees - 1,), math.sqrt(2.0), dtype=torch.float64)
    scale[0] = m0_scale
    return scale


def _evaluate(lonlat: Tensor, num_degrees: int, a: Tensor, b: Tensor, c: Tensor, diag: Tensor,
              pidx: Tensor, tidx: Tensor, scale: Tensor, dtype: torch.dtype) -> Tensor:
    """Core evaluation; constant tensors must be on ``lonlat``'s device.

    Works feature-major, (features, N), so that the recurrence and the final gathers touch
    contiguous rows; returns the (N, L**2) transpose (a view).
    """
    L = num_degrees
    compute = dtype if (dtype == torch.float64 or L <= FLOAT32_RECURRENCE_MAX_DEGREES) else torch.float64
    lat = lonlat[:, 1].to(torch.float64) * _DEG2RAD
    x64 = -torch.sin(lat)                                       # cos(theta), theta = lat + 90 deg
    negative = x64 < 0
    absx64 = torch.where(negative, -x64, x64)                   # |x|, with the right gradient at x = 0
    delta = (1.0 - absx64).to(compute).unsqueeze(0)             # (1, N) 1 - |x|, exact near the poles
    s = torch.cos(lat).clamp(min=0.0).to(compute).unsqueeze(0)  # (1, N) sin(theta) >= 0

    # Legendre table at |x| with Reinsch's form of the recurrence: with D_l = Pbar_l - Pbar_{l-1},
    #   D_l = (c_lm - a_lm delta) Pbar_{l-1} + b_lm D_{l-1},  Pbar_l = Pbar_{l-1} + D_l,  c = a - b - 1,
    # which is the same recurrence but does not amplify rounding near |x| = 1 (the plain form loses
    # ~eps * l**2 there: 1.6e-4 in float32 at L = 40; this one stays below 1e-6 relative up to L = 150).
    a_c, b_c, c_c, diag_c = a.to(compute), b.to(compute), c.to(compute), diag.to(compute)
    minus_delta = -delta
    pmm = diag_c[0] * torch.ones_like(s)                        # Pbar_0^0
    rows = [pmm]                                                # rows[l]: (l + 1, N), m = 0..l
    diff = pmm                                                  # D_{l-1}, m = 0..l-1 (last entry: Pbar_{l-1}^{l-1})
    for l in range(1, L):
        prev = rows[l - 1]
        # m = l - 1 needs no special case: a_l,l-1 = sqrt(2l + 1), b_l,l-1 = 0, c_l,l-1 = a_l,l-1 - 1.
        coef = torch.addcmul(c_c[l, :l].unsqueeze(1), a_c[l, :l].unsqueeze(1), minus_delta)
        step = torch.addcmul(coef * prev, b_c[l, :l].unsqueeze(1), diff)
        pmm = pmm * s * (diag_c[l] / diag_c[l - 1])             # Pbar_l^l, a running product
        rows.append(torch.cat((prev + step, pmm)))
        diff = torch.cat((step, pmm))
    table = torch.cat(rows).to(dtype)                          # (L(L+1)/2, N)

    # Longitude rows: m0_scale * cos(0), sqrt(2) cos(m phi) (m = 1..L-1), sqrt(2) sin(m phi) (m = 1..L-1),
    # times (-1)**m where x < 0; a second copy times -1 there serves the odd degrees, so that
    # Pbar_l^m(x) = (-1)**(l + m) Pbar_l^m(|x|) costs nothing on the big table.
    phi = (lonlat[:, 0].to(torch.float64) + 180.0) * _DEG2RAD
    orders = torch.arange(L, dtype=torch.float64, device=lonlat.device)
    sin, cos = sin_cos(orders.unsqueeze(1) * phi, dtype)
    odd = torch.remainder(orders, 2.0).unsqueeze(1) * negative.to(torch.float64)   # (L, N) 1 where flipped
    parity = (1.0 - 2.0 * odd).to(dtype)
    trig = torch.cat((cos * parity, (sin * parity)[1:])) * scale.to(dtype).unsqueeze(1)  # (2L - 1, N)
    flip = (1.0 - 2.0 * negative.to(torch.float64)).to(dtype).unsqueeze(0)
    trig = torch.cat((trig, trig * flip))                      # (2 (2L - 1), N)

    out = table.index_select(0, pidx) * trig.index_select(0, tidx)  # (L**2, N)
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
        (N, L**2) tensor; see the module docstring for the angle and sign conventions.
    """
    if dtype is None:
        dtype = lonlat.dtype if lonlat.is_floating_point() else torch.float32
    a, b, c, diag, pidx, tidx = (t.to(lonlat.device) for t in _coefficients(int(num_degrees)))
    scale = _longitude_scale(int(num_degrees), float(m0_scale)).to(lonlat.device)
    return _evaluate(lonlat, int(num_degrees), a, b, c, diag, pidx, tidx, scale, dtype)


@register_position_encoder("spherical-harmonics")
class SphericalHarmonicsPositionEncoder(PositionEncoder):
    """SatCLIP's real spherical harmonics with L = ``config.sh_degree`` Legendre degrees.

    Input: (N, 2) [lon, lat] degrees. Output: (N, L**2) in the input dtype, ordered l = 0..L-1,
    m = -l..l, with SatCLIP's angles, signs and m = 0 scaling (module docstring). No state is
    saved: all constants are float64 buffers rebuilt from the config.
    """

    def __init__(self, config: LocationEncoderConfig) -> None:
        super().__init__(config)
        self.num_degrees = config.sh_degree
        a, b, c, diag, pidx, tidx = _coefficients(self.num_degrees)
        self.register_float64_buffer("a", a.clone())  # clones: the cached originals stay untouched
        self.register_float64_buffer("b", b.clone())
        self.register_float64_buffer("c", c.clone())
        self.register_float64_buffer("diag", diag.clone())
        self.register_float64_buffer("scale", _longitude_scale(self.num_degrees, math.pi))
        self.register_buffer("pidx", pidx.clone(), persistent=False)
        self.register_buffer("tidx", tidx.clone(), persistent=False)
        self.out_dim = self.num_degrees ** 2

    def forward(self, lonlat: Tensor) -> Tensor:
        return _evaluate(lonlat, self.num_degrees, self.a, self.b, self.c, self.diag, self.pidx, self.tidx,
                         self.scale, lonlat.dtype)

    def extra_repr(self) -> str:
        return f"num_degrees={self.num_degrees}, out_dim={self.out_dim}"
