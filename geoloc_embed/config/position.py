"""One config per position-encoder family, each with its paper's / reference implementation's defaults.

Sources cited below (tags as in ``csp-spec.md`` section 0):

* [csp] ``gengchenmai/csp`` @ 67f3407: ``main/trainer.py`` parser defaults and
  ``main/run-inat_2018-contsoftmax.sh`` / the released checkpoint names (csp-spec.md sections 1.2-1.4).
* [s2v] ``gengchenmai/sphere2vec`` @ babd338 ``main/trainer.py`` parser defaults (``--frequency_num 32
  --max_radius 1.0 --min_radius 0.000001``); [ts] ``seai-lab/TorchSpatial`` @ 9f8d833 ``main/trainer.py``
  has the same three defaults.
* [satclip] ``microsoft/satclip``: the released L = 10 / L = 40 models.
* [geoclip] the ``geoclip`` wheel (``geoclip/model/location_encoder.py``; csp-spec.md section 9 item 18).

Units: grid, theory, rbf and tile take raw degrees; the Sphere2Vec families (sphere-c, sphere-c-plus,
sphere-m, sphere-m-plus, dfs) scale **radians**, so their radii are in radians (max_radius = 1 means
the lowest frequency is 1 per radian), never grid's 0.1 / 360 degrees.
"""

import math
from dataclasses import dataclass

from .base import PositionEncoderConfig, register_position_encoder_config
from .fields import fail, float_field, float_tuple_field, int_field

__all__ = [
    "GridConfig",
    "TheoryConfig",
    "SphereCConfig",
    "SphereCPlusConfig",
    "SphereMConfig",
    "SphereMPlusConfig",
    "DFSConfig",
    "WrapConfig",
    "XYZConfig",
    "NeRFConfig",
    "RBFConfig",
    "RFFConfig",
    "TileConfig",
    "SphericalHarmonicsConfig",
    "EqualEarthRFFConfig",
    "WORLD",
    "tile_grid_shape",
]

#: (lon_min, lon_max, lat_min, lat_max) of the whole world, degrees ([csp] ``--map_range`` default).
WORLD = (-180.0, 180.0, -90.0, 90.0)

#: Largest number of scales of the multi-scale families: 4 to 8 features per scale, so at most
#: 32,768 features (the network's first layer is features x hidden).
MAX_SCALES = 4096
_SCALES_NOTE = f"at most {MAX_SCALES} scales; each scale adds 3 to 8 features and a column block of the first layer"


def _positive(default: float) -> float:
    """A finite float field > 0 (radii, kernel widths, cell sizes)."""
    return float_field(default, minimum=0.0, exclusive_minimum=True)


# --------------------------------------------------------------------------- multi-scale families
class _GeometricScales(PositionEncoderConfig):
    """Shared check of the S geometric scales r_min * (r_max / r_min) ** (s / (S - 1))."""

    frequency_num: int
    min_radius: float
    max_radius: float

    def _check(self) -> None:
        if self.min_radius > self.max_radius:
            raise fail(self.owner, "min_radius", self.min_radius,
                       f"a value <= max_radius ({self.max_radius!r})")
        if self.frequency_num < 2 and self.min_radius != self.max_radius:
            raise fail(self.owner, "frequency_num", self.frequency_num,
                       "at least 2 for geometric scales between min_radius and max_radius "
                       "(or set min_radius == max_radius for a single scale)")


@register_position_encoder_config
@dataclass(frozen=True)
class GridConfig(_GeometricScales):
    """Space2Vec grid on raw degrees, CSP's encoder: 4S features (csp-spec.md section 1.2).

    Defaults S = 32, r_min = 0.1 deg, r_max = 360 deg: [csp] ``run-inat_2018-contsoftmax.sh`` and the
    released checkpoints (the paper's A.4 says r_min = 0.01; csp-spec.md section 1.4).
    """

    family = "grid"
    frequency_num: int = int_field(32, minimum=1, maximum=MAX_SCALES, note=_SCALES_NOTE)
    min_radius: float = _positive(0.1)
    max_radius: float = _positive(360.0)

    @property
    def feature_dim(self) -> int:
        return 4 * self.frequency_num


@register_position_encoder_config
@dataclass(frozen=True)
class TheoryConfig(_GeometricScales):
    """Space2Vec theory on raw degrees (three directions 120 deg apart): 6S features.

    Same degree scales as grid (S = 32, 0.1 to 360 deg, [csp]): theory is Space2Vec's other encoder
    on the same inputs; TorchSpatial's released theory checkpoints also use r_max = 360 deg (with
    S = 64 and a smaller r_min, see the ``space2vec-theory`` architecture).
    """

    family = "theory"
    frequency_num: int = int_field(32, minimum=1, maximum=MAX_SCALES, note=_SCALES_NOTE)
    min_radius: float = _positive(0.1)
    max_radius: float = _positive(360.0)

    @property
    def feature_dim(self) -> int:
        return 6 * self.frequency_num


class _Sphere2Vec(_GeometricScales):
    """Sphere2Vec scales in radians: S = 32, r_min = 1e-6, r_max = 1 ([s2v] and [ts] parser defaults)."""

    terms_per_scale = 0

    @property
    def feature_dim(self) -> int:
        return self.terms_per_scale * self.frequency_num


@register_position_encoder_config
@dataclass(frozen=True)
class SphereCConfig(_Sphere2Vec):
    """sphereC (Sphere2Vec ``sphere``): 3S features; radian scales ([s2v] defaults, see ``_Sphere2Vec``)."""

    family = "sphere-c"
    terms_per_scale = 3
    frequency_num: int = int_field(32, minimum=1, maximum=MAX_SCALES, note=_SCALES_NOTE)
    min_radius: float = _positive(1e-6)
    max_radius: float = _positive(1.0)


@register_position_encoder_config
@dataclass(frozen=True)
class SphereCPlusConfig(_Sphere2Vec):
    """sphereC+ (Sphere2Vec ``spheregrid``): 6S features; radian scales ([s2v] defaults)."""

    family = "sphere-c-plus"
    terms_per_scale = 6
    frequency_num: int = int_field(32, minimum=1, maximum=MAX_SCALES, note=_SCALES_NOTE)
    min_radius: float = _positive(1e-6)
    max_radius: float = _positive(1.0)


@register_position_encoder_config
@dataclass(frozen=True)
class SphereMConfig(_Sphere2Vec):
    """sphereM (Sphere2Vec ``spheremixscale``): 5S features; radian scales ([s2v] defaults)."""

    family = "sphere-m"
    terms_per_scale = 5
    frequency_num: int = int_field(32, minimum=1, maximum=MAX_SCALES, note=_SCALES_NOTE)
    min_radius: float = _positive(1e-6)
    max_radius: float = _positive(1.0)


@register_position_encoder_config
@dataclass(frozen=True)
class SphereMPlusConfig(_Sphere2Vec):
    """sphereM+ (Sphere2Vec ``spheregridmixscale``): 8S features; radian scales ([s2v] defaults)."""

    family = "sphere-m-plus"
    terms_per_scale = 8
    frequency_num: int = int_field(32, minimum=1, maximum=MAX_SCALES, note=_SCALES_NOTE)
    min_radius: float = _positive(1e-6)
    max_radius: float = _positive(1.0)


@register_position_encoder_config
@dataclass(frozen=True)
class DFSConfig(_Sphere2Vec):
    """Double Fourier sphere (Sphere2Vec ``dft``): 4S^2 + 4S features; radian scales ([s2v] defaults).

    S is bounded by 128 (66,048 features) because the feature count grows with S squared.
    """

    family = "dfs"
    frequency_num: int = int_field(32, minimum=1, maximum=128,
                                   note="at most 128: dfs has 4 * S**2 + 4 * S features (66,048 at S = 128)")
    min_radius: float = _positive(1e-6)
    max_radius: float = _positive(1.0)

    @property
    def feature_dim(self) -> int:
        return 4 * self.frequency_num ** 2 + 4 * self.frequency_num


# --------------------------------------------------------------------------- fixed encodings
@register_position_encoder_config
@dataclass(frozen=True)
class WrapConfig(PositionEncoderConfig):
    """geo_prior's wrap encoding (lon/180, lat/90 -> sin, cos): 4 features, no hyperparameters."""

    family = "wrap"

    @property
    def feature_dim(self) -> int:
        return 4


@register_position_encoder_config
@dataclass(frozen=True)
class XYZConfig(PositionEncoderConfig):
    """Point on the unit sphere: 3 features, no hyperparameters."""

    family = "xyz"

    @property
    def feature_dim(self) -> int:
        return 3


@register_position_encoder_config
@dataclass(frozen=True)
class NeRFConfig(PositionEncoderConfig):
    """NeRF encoding of the unit-sphere point with frequencies pi * 2**l: 6L features.

    Default L = 16: TorchSpatial always uses 16 levels, whatever ``frequency_num`` says
    (csp-spec.md section 9 item 10). Bounded by 52: beyond that a float64 phase has no fraction left.
    """

    family = "nerf"
    nerf_levels: int = int_field(16, minimum=1, maximum=52,
                                 note="at most 52: pi * 2**l beyond that leaves no fractional phase in float64")

    @property
    def feature_dim(self) -> int:
        return 6 * self.nerf_levels


# --------------------------------------------------------------------------- random / learned features
@register_position_encoder_config
@dataclass(frozen=True)
class RBFConfig(PositionEncoderConfig):
    """Gaussian RBFs around M anchors in degrees: M features.

    Defaults M = 200 anchors, sigma = 1 degree: [csp]/[s2v] ``--num_rbf_anchor_pts 200
    --rbf_kernal_size 1.0`` (csp-spec.md section 1.3).
    """

    family = "rbf"
    num_anchors: int = int_field(200, minimum=1, maximum=65536, note="at most 65,536 anchors (one feature each)")
    rbf_kernel_size: float = _positive(1.0)

    @property
    def feature_dim(self) -> int:
        return self.num_anchors


def _check_map_range(owner: str, map_range: tuple[float, ...]) -> None:
    lon_min, lon_max, lat_min, lat_max = map_range
    if not (lon_min < lon_max and lat_min < lat_max):
        raise fail(owner, "map_range", map_range, "(lon_min, lon_max, lat_min, lat_max) with lon_min < lon_max "
                   "and lat_min < lat_max, in degrees")


@register_position_encoder_config
@dataclass(frozen=True)
class RFFConfig(PositionEncoderConfig):
    """Random Fourier features of min-max scaled coordinates: D = ``frequency_num`` features.

    Defaults D = 32, sigma = 1 ([ts] ``--frequency_num 32``, ``--rbf_kernel_size 1.0``, which is rff's
    sigma) and the whole world as ``map_range`` ([csp]/[s2v] default; TorchSpatial's parser default is
    a North-America box, [-162, -59, 20, 56], which would be a trap for global data).
    """

    family = "rff"
    frequency_num: int = int_field(32, minimum=1, maximum=65536, note="at most 65,536 random features")
    rff_sigma: float = _positive(1.0)
    map_range: tuple[float, float, float, float] = float_tuple_field(WORLD, length=4)

    def _check(self) -> None:
        _check_map_range(self.owner, self.map_range)

    @property
    def feature_dim(self) -> int:
        return self.frequency_num


#: Largest tile table (cells x embedding size) a config may ask for: 4 GB of float32.
MAX_TILE_TABLE = 1 << 30


def _cell_count(extent: float, size: float) -> int:
    # The 1e-9 guards against 360 / 0.1 = 3600.0000000000005 creating an empty extra cell.
    return max(1, math.ceil(extent / size - 1e-9))


def tile_grid_shape(map_range: tuple[float, ...], tile_size: float) -> tuple[int, int]:
    """(rows, cols) of square ``tile_size``-degree cells covering ``map_range`` (the last ones may stick out)."""
    lon_min, lon_max, lat_min, lat_max = map_range
    return _cell_count(lat_max - lat_min, tile_size), _cell_count(lon_max - lon_min, tile_size)


@register_position_encoder_config
@dataclass(frozen=True)
class TileConfig(PositionEncoderConfig):
    """A learned ``tile_embed_dim`` embedding per square cell of ``tile_size`` degrees (TorchSpatial ``tile_ffn``).

    Defaults: the whole world, 1-degree cells (64,800 cells) and 256-d embeddings (TorchSpatial's
    ``num_filts``). TorchSpatial itself takes the cell size from ``min_radius`` (parser default 1e-6,
    which no table could hold; its released file has a single cell), so there is no usable upstream
    default for the cell size.
    """

    family = "tile"
    map_range: tuple[float, float, float, float] = float_tuple_field(WORLD, length=4)
    tile_size: float = _positive(1.0)
    tile_embed_dim: int = int_field(256, minimum=1, maximum=16384, note="at most 16,384")

    def _check(self) -> None:
        _check_map_range(self.owner, self.map_range)
        rows, cols = self.grid_shape
        if rows * cols * self.tile_embed_dim > MAX_TILE_TABLE:
            raise fail(self.owner, "tile_size", self.tile_size,
                       f"a cell size whose table fits in {MAX_TILE_TABLE:,} numbers: {rows} x {cols} cells of "
                       f"{self.tile_embed_dim} values are {rows * cols * self.tile_embed_dim:,}; use a larger "
                       "tile_size, a smaller map_range or a smaller tile_embed_dim")

    @property
    def grid_shape(self) -> tuple[int, int]:
        """(rows, cols) of the tile grid."""
        return tile_grid_shape(self.map_range, self.tile_size)

    @property
    def feature_dim(self) -> int:
        return self.tile_embed_dim


@register_position_encoder_config
@dataclass(frozen=True)
class SphericalHarmonicsConfig(PositionEncoderConfig):
    """SatCLIP's real spherical harmonics with L Legendre degrees: L**2 features.

    Default L = 10: the released SatCLIP-*-L10 models ([satclip]; the L = 40 ones are the
    ``satclip-sh-siren-l40`` architecture). Bounded by 256 (65,536 features).
    """

    family = "spherical-harmonics"
    sh_degree: int = int_field(10, minimum=1, maximum=256, note="at most 256 (L**2 = 65,536 features)")

    @property
    def feature_dim(self) -> int:
        return self.sh_degree ** 2


@register_position_encoder_config
@dataclass(frozen=True)
class EqualEarthRFFConfig(PositionEncoderConfig):
    """GeoCLIP's Equal Earth projection + one Gaussian RFF branch per sigma: B * 2F features.

    Defaults sigma = 2**0, 2**4, 2**8 and F = 256 features per branch ([geoclip]).
    """

    family = "equal-earth-rff"
    rff_sigmas: tuple[float, ...] = float_tuple_field((1.0, 16.0, 256.0), max_length=16, minimum=0.0,
                                                      exclusive_minimum=True, note="1 to 16 branches")
    rff_features: int = int_field(256, minimum=1, maximum=16384, note="at most 16,384 per branch")

    @property
    def num_branches(self) -> int:
        return len(self.rff_sigmas)

    @property
    def feature_dim(self) -> int:
        return 2 * self.rff_features * len(self.rff_sigmas)
