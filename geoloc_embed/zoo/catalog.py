"""The registered pretrained location encoders of other projects: CSP, TorchSpatial, GeoCLIP, SatCLIP.

Each entry is a ``PretrainedSpec`` added with ``register_pretrained`` when this module is imported
(``geoloc_embed.zoo`` imports it; the models trained here are in ``bundled``). ``docs/zoo.md`` is
generated from these entries (``docs/generate_zoo.py``; a test checks that they agree).
"""

from typing import Any, Iterable, Mapping

from ..convert.csp_names import parse_model_file_name
from .registry import register_pretrained
from .spec import PretrainedSpec

__all__ = ["CSP_CITATION", "TORCHSPATIAL_CITATION", "GEOCLIP_CITATION", "SATCLIP_CITATION",
           "CSP_MODEL_ZIP_URL", "CSP_MODEL_ZIP_SIZE", "TORCHSPATIAL_RAW"]

# --------------------------------------------------------------------------- citations
CSP_CITATION = """@inproceedings{mai2023csp,
  title     = {CSP: Self-Supervised Contrastive Spatial Pre-Training for Geospatial-Visual Representations},
  author    = {Mai, Gengchen and Lao, Ni and He, Yutong and Song, Jiaming and Ermon, Stefano},
  booktitle = {International Conference on Machine Learning (ICML)},
  year      = {2023}
}"""

TORCHSPATIAL_CITATION = """@inproceedings{wu2024torchspatial,
  title     = {TorchSpatial: A Location Encoding Framework and Benchmark for Spatial Representation Learning},
  author    = {Wu, Nemin and Cao, Qian and Wang, Zhangyu and others},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS) Datasets and Benchmarks Track},
  year      = {2024}
}"""

GEOCLIP_CITATION = """@inproceedings{vivanco2023geoclip,
  title     = {GeoCLIP: Clip-Inspired Alignment between Locations and Images for Effective Worldwide Geo-localization},
  author    = {Vivanco Cepeda, Vicente and Nayak, Gaurav Kumar and Shah, Mubarak},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year      = {2023}
}"""

SATCLIP_CITATION = """@inproceedings{klemmer2025satclip,
  title     = {SatCLIP: Global, General-Purpose Location Embeddings with Satellite Imagery},
  author    = {Klemmer, Konstantin and Rolf, Esther and Robinson, Caleb and Mackey, Lester and Ru{\\ss}wurm, Marc},
  booktitle = {Proceedings of the AAAI Conference on Artificial Intelligence},
  volume    = {39},
  year      = {2025}
}"""


# --------------------------------------------------------------------------- CSP (authors' zip)
CSP_MODEL_ZIP_URL = "https://www.dropbox.com/s/qxr644rj1qxekn2/model_dir.zip?dl=1"
CSP_MODEL_ZIP_SIZE = 94_186_705  # bytes, per the SatCLIP notebook's download log (csp-spec.md section 4)
_CSP_RAW_DEGREES = ("(lon, lat) in raw degrees, lon first; no scaling (CSP's convert_loc_to_tensor_no_normalize). "
                    "Third-party recipes that divide by 180/90 first compute off-distribution embeddings.")
_CSP_NOTES = ("The CSP authors published no license: the weights are downloaded from the authors' Dropbox link "
              "on your machine and converted locally; they are never redistributed by geoloc-embed. They publish "
              "no checksum either: the archive's size (94,186,705 bytes) is checked, and on first use the sha256 "
              "of the archive and of the member are recorded and printed; a later, different file under the same "
              "name is refused. Pin a hash with expected_sha256= or GEOLOC_EMBED_SHA256_<NAME>.")

# Where each head's class order comes from (not stored in any checkpoint: a checkpoint only has
# num_classes rows). Facts from the authors' loaders (TorchSpatial main/datasets.py, which the CSP code
# shares): the class index is the dataset file's category id, used as is.
CLASS_ORDER_INAT2018 = (
    "8142 iNaturalist 2018 species: class c = iNat2018 category_id c (0-8141). The authors' loader takes "
    "annotations[].category_id from train2018.json / val2018.json as the class index unchanged; names and "
    "taxonomy are in the competition's categories2018.json (id -> name), published with the iNat 2018 data "
    "(github.com/visipedia/inat_comp). Known from the loader code and the dataset files, not from the weights.")
CLASS_ORDER_FMOW = (
    "62 fMoW classes: class c = category_id c of the authors' fmow/train.json; names from category.json "
    "(a name -> id dict) in the authors' data archive (geo_prior_data_csp.zip), which the loader inverts. "
    "The order is only known from that file: it is not in the checkpoint and not published elsewhere by the "
    "authors. fMoW's 62 names are usually listed alphabetically (airport, airport_hangar, ...), but that this "
    "is the authors' id order is unverified: read category.json before mapping columns to names.")
CLASS_ORDER_YFCC = (
    "100 YFCC100M-GEO100 classes (the set of Tang et al. 2015 and geo_prior, Mac Aodha et al. 2019): class c = "
    "the class id in the YFCC folder's train_test_split.csv; names from its class_names.csv (columns id, name). "
    "TorchSpatial points to github.com/visipedia/fg_geo and its data archive (doi 10.6084/m9.figshare.26026798) "
    "for these files. Only known from those dataset files (the loader's comment calls class 9 'beach').")

_CSP_GRID_PE = {"family": "grid", "frequency_num": 32, "min_radius": 0.1, "max_radius": 360.0}
_CSP_FFN = {"name": "csp-ffn", "num_hidden_layers": 1, "hidden_dim": 512, "embed_dim": 256}



def _csp(name: str, dataset: str, act: str, member: str, finetuned: bool, classes: int,
         metrics: Mapping[str, Mapping[str, float]], aliases: Iterable[str] = ()) -> None:
    pretty = "iNat2018" if dataset == "inat_2018" else "fMoW"
    image = ("ImageNet InceptionV3 features (frozen)" if dataset == "inat_2018"
             else "Geo-SSL MoCo-V2+TP ResNet50 features (frozen)")
    what = ("CSP-MC-BLD pre-trained, then fine-tuned on a stratified 5% of the labels with the geo_prior "
            f"presence-absence loss; carries the {classes}-class head" if finetuned else
            "CSP-MC-BLD self-supervised pre-training only (contrastive with frozen image features); no class "
            "head (the checkpoint's class embedding is untrained and is dropped)")
    register_pretrained(PretrainedSpec(
        name=name,
        source="url-zip",
        url=CSP_MODEL_ZIP_URL,
        size_bytes=CSP_MODEL_ZIP_SIZE,
        member=member,
        converter="csp",
        license="none",
        redistributable=False,
        citation=CSP_CITATION,
        homepage="https://gengchenmai.github.io/csp-website/",
        description=(f"CSP location encoder (Space2Vec grid, 32 scales 0.1-360 deg, FFN 128-512-256, {act}) "
                     f"trained on {pretty}: {what}."),
        coordinate_convention=_CSP_RAW_DEGREES,
        training_data=f"{pretty} training locations paired with {image}",
        expected={"position_encoder": _CSP_GRID_PE, "network": {**_CSP_FFN, "activation": act},
                  **({"num_classes": classes} if finetuned else {})},
        keep_class_head=finetuned,
        class_order=("" if not finetuned else CLASS_ORDER_INAT2018 if dataset == "inat_2018" else CLASS_ORDER_FMOW),
        metrics=metrics,
        notes=_CSP_NOTES + ("" if not finetuned else
                            " The fine-tuned member's full file name is only partly documented upstream; it is "
                            "matched by pattern inside model_dir.zip."),
    ), aliases=aliases)


_csp("csp-inat", "inat_2018", "leakyrelu",
     "model_dir/model_inat_2018/model_inat_2018_gridcell_0.0010_32_0.1000000_1_512_leakyrelu_UNSUPER-contsoftmax_"
     "0.000500_1.000_1_1.000_TMP20.0000_1.0000_1.0000.pth.tar",
     finetuned=False, classes=8142,
     metrics={"inat2018-val-top1 (after 5/10/20/100% fine-tuning, paper Tab. 1)":
              {"5%": 9.01, "10%": 19.68, "20%": 29.61, "100%": 73.79}},
     aliases=("csp", "csp-inat2018", "csp-inat-2018"))
_csp("csp-inat-ft5", "inat_2018", "leakyrelu",
     "model_dir/model_inat_2018/model_inat_2018_gridcell_*_leakyrelu_contsoftmax_ratio0.050_*.pth.tar",
     finetuned=True, classes=8142,
     metrics={"inat2018-val-top1 (paper Tab. 1, CSP-MC-BLD, 5%)": {"top1": 9.01}})
_csp("csp-fmow", "fmow", "gelu",
     "model_dir/model_fmow/model_fmow_gridcell_0.0010_32_0.1000000_1_512_gelu_UNSUPER-contsoftmax_0.000050_1.000_1_"
     "0.100_TMP1.0000_1.0000_1.0000.pth.tar",
     finetuned=False, classes=62,
     metrics={"fmow-val-top1 (after 5/10/20/100% fine-tuning, paper Tab. 5)":
              {"5%": 67.47, "10%": 69.23, "20%": 70.66, "100%": 71.00}})
_csp("csp-fmow-ft5", "fmow", "gelu",
     "model_dir/model_fmow/model_fmow_gridcell_*_gelu_contsoftmax_ratio0.050_*.pth.tar",
     finetuned=True, classes=62,
     metrics={"fmow-val-top1 (paper Tab. 5, CSP-MC-BLD, 5%)": {"top1": 67.47}})

# --------------------------------------------------------------------------- TorchSpatial (MIT, GitHub)
TORCHSPATIAL_RAW = "https://raw.githubusercontent.com/seai-lab/TorchSpatial"

# (registry encoder tag, folder, original file name, commit holding the file, sha256, size, family,
#  dataset, activation, expected extra)
_TS_FILES: list[tuple[str, str, str, str, str, int]] = [
    ("nerf", "nerf", "model_fmow_NeRF_inception_v3_0.0100_64_0.0500000_1_256.pth.tar",
     "4434b1c14cebc70d37cdb46900749ad315597e16",
     "eba782d3a4bce1c39f66996e9d265ee61e1070a9b15bd4a27a539363bba4293c", 1298962),
    ("nerf", "nerf", "model_yfcc_NeRF_inception_v3_0.0100_64_0.0001000_1_256.pth.tar",
     "6d7c6388b11452185dfb1aa89019094d34b3652c",
     "26c560c22bb18d792506fe76ffb913e497d6c5a2f14c1a71247ff8c4a93bb3d9", 1415698),
    ("rff", "rff", "model_fmow_rff_inception_v3_0.0050_64_0.0000010_1_512_2.0.pth.tar",
     "4434b1c14cebc70d37cdb46900749ad315597e16",
     "5c796e73fff9067757b07e51a57f0d74d74f9dba5e625b82c73475e7217dd956", 2191560),
    ("rff", "rff", "model_yfcc_rff_inception_v3_0.0010_64_0.0000010_1_512_1.0.pth.tar",
     "4434b1c14cebc70d37cdb46900749ad315597e16",
     "ed5c13a14f2e902086a10d7681863718927ed5f1e45f6f657c59bde306adf1a3", 2308232),
    ("grid", "space2vec_grid",
     "model_yfcc_Space2Vec-grid_inception_v3_0.0100_64_0.0050000_360.000_1_512_BATCH4096_leakyrelu.pth.tar",
     "68c53860f553c79593d2e014696f27a7468dbf62",
     "89d5cdb312dd644b9d226aea94b5c5394b4a1ca56ffd3385fb89059e9e69293f", 3492856),
    ("theory", "space2vec_theory",
     "model_fmow_Space2Vec-theory_inception_v3_0.0200_64_0.0001000_360.000_1_512_BATCH8192_leakyrelu.pth.tar",
     "bf92dabe6f76564536d9e43d7831c77f901f0f78",
     "26e3428edddfb7392ff2487bcc40ca6e7eafcc9d77992d5d0a7d194fcb359156", 4162618),
    ("theory", "space2vec_theory",
     "model_yfcc_Space2Vec-theory_inception_v3_0.0100_64_0.0500000_360.000_1_256_BATCH4096_leakyrelu.pth.tar",
     "bf92dabe6f76564536d9e43d7831c77f901f0f78",
     "16cdc90bd2e700e1e2c25cb78bdadab1e2b61885e775377c95e0699ecb1fe70d", 2304058),
    ("sphere-c", "sphere2vec_sphereC", "model_fmow_Sphere2Vec-sphereC_inception_v3_0.0050_64_0.0005000_1_512.pth.tar",
     "4434b1c14cebc70d37cdb46900749ad315597e16",
     "2096ab72c04dd359d4097f7204b592f06fb5d7f568f175c86eae6150de890fef", 2976590),
    ("sphere-c", "sphere2vec_sphereC", "model_yfcc_Sphere2Vec-sphereC_inception_v3_0.0005_64_0.0001000_1_512.pth.tar",
     "4434b1c14cebc70d37cdb46900749ad315597e16",
     "f91548c543771ce68a23b150c3e2fd85ab78d205d99d29995b83eaeb15e5b7bd", 3093454),
    ("sphere-c-plus", "sphere2vec_sphereCplus",
     "model_fmow_Sphere2Vec-sphereC+_inception_v3_0.0050_64_0.0001000_1_512.pth.tar",
     "4434b1c14cebc70d37cdb46900749ad315597e16",
     "2aa874bf24ba1865a039ee4165cb805f453d9dae24d3e4284648dd0bfe06e616", 4156366),
    ("sphere-m", "sphere2vec_sphereM", "model_fmow_Sphere2Vec-sphereM_inception_v3_0.0050_64_0.0001000_1_512.pth.tar",
     "6d7c6388b11452185dfb1aa89019094d34b3652c",
     "4ed216c86f8d06ae43e429bc83355783529327e133843e6d1ddda91c170610b8", 3763150),
    ("sphere-m", "sphere2vec_sphereM", "model_yfcc_Sphere2Vec-sphereM_inception_v3_0.0010_64_0.0005000_1_512.pth.tar",
     "4434b1c14cebc70d37cdb46900749ad315597e16",
     "99b3adb64174b04891b54f5e52f7cd4890f296b5fb6a5e51ade3b88432fe217c", 3879886),
    ("tile", "tile", "model_fmow_tile_ffn_inception_v3_0.00182000_32_0.0000026_1_512_leakyrelu.pth.tar",
     "4434b1c14cebc70d37cdb46900749ad315597e16",
     "84ec3bba229cb137581a57bf2447ed60e6f8187fe673cf0903279d63a5401c4e", 1126987),
    ("wrap-ffn", "wrap_ffn", "model_fmow_wrap_ffn_inception_v3_0.0020_64_0.0005000_1_512.pth.tar",
     "6d7c6388b11452185dfb1aa89019094d34b3652c",
     "60aff41bb53448a1757999607edeeeec861596dfe75ca673dbff4ceacc047d47", 1821582),
    ("wrap-ffn", "wrap_ffn", "model_yfcc_wrap_ffn_inception_v3_0.0020_64_0.0005000_1_512.pth.tar",
     "6d7c6388b11452185dfb1aa89019094d34b3652c",
     "db6210c093701ca290a7394da8a30623135b545119a027105e8ada766915feaa", 1938318),
    ("xyz", "xyz", "model_fmow_xyz_inception_v3_0.0050_64_0.0005000_1_512.pth.tar",
     "4434b1c14cebc70d37cdb46900749ad315597e16",
     "cfaa24a45ad7f6564fc6079554ed10d358b21a1273197e87425a7ea278c6ad4f", 1815374),
    ("xyz", "xyz", "model_yfcc_xyz_inception_v3_0.0020_64_0.0005000_1_512.pth.tar",
     "4434b1c14cebc70d37cdb46900749ad315597e16",
     "23de9ff887a4c78a869b094699612731c9f02f985061d0cf97bd0d6f8177de78", 1931982),
]

_TS_CONVENTION = {
    "grid": "(lon, lat) raw degrees",
    "theory": "(lon, lat) raw degrees, projected on three unit vectors at 0/120/240 degrees",
    "sphere-c": "(lon, lat) degrees converted to radians",
    "sphere-c-plus": "(lon, lat) degrees converted to radians",
    "sphere-m": "(lon, lat) degrees converted to radians",
    "nerf": "(lon, lat) degrees -> unit vector (x, y, z)",
    "xyz": "(lon, lat) degrees -> unit vector (x, y, z)",
    "rff": "(lon, lat) degrees min-max scaled with params['map_range'] to [-1, 1] (unclipped)",
    "wrap-ffn": "(lon, lat) degrees divided by 180 / 90 (world extent)",
    "tile": "(lon, lat) degrees looked up in a tile grid over params['map_range']",
}
_TS_FAMILY = {"wrap-ffn": "wrap"}
_TS_DATA = {
    "fmow": ("fMoW locations, 62 classes (supervised geo-prior training in TorchSpatial; "
             "params['cnn_model'] = inception_v3)"),
    "yfcc": ("YFCC geo-prior benchmark locations, 100 classes (supervised geo-prior training in TorchSpatial; "
             "params['cnn_model'] = inception_v3)"),
}


def _register_torchspatial() -> None:
    for tag, folder, original, commit, sha, size in _TS_FILES:
        dataset = original.split("_")[1]
        classes = 62 if dataset == "fmow" else 100
        decoded = parse_model_file_name(original)
        expected: dict[str, Any] = {
            "position_encoder": {"family": _TS_FAMILY.get(tag, tag)},
            "network": {"name": "csp-ffn", "embed_dim": 256, "num_hidden_layers": decoded["num_hidden_layer"],
                        "hidden_dim": decoded["hidden_dim"], "activation": decoded["spa_f_act"]},
            "num_classes": classes,
        }
        notes = ""
        description = (f"TorchSpatial supervised location encoder ({tag} position encoding + CSP FFN) trained as a "
                       f"geo-prior on {dataset}; task-specific, with its {classes}-class head.")
        if tag == "tile":
            notes = ("Upstream defect: the tile grid in this file has a single cell, so every location gets the "
                     "same embedding (and the same logits). Kept for faithful reproduction only.")
            description += " DEGENERATE: constant output (see notes)."
        register_pretrained(PretrainedSpec(
            name=f"torchspatial-{tag}-{dataset}",
            source="url-file",
            url=f"{TORCHSPATIAL_RAW}/{commit}/pre_trained_models/{folder}/{original}",
            filename=original,
            sha256=sha,
            size_bytes=size,
            converter="csp",
            license="MIT",
            redistributable=True,
            citation=TORCHSPATIAL_CITATION,
            homepage="https://github.com/seai-lab/TorchSpatial",
            description=description,
            coordinate_convention=_TS_CONVENTION[tag],
            training_data=_TS_DATA[dataset],
            expected=expected,
            class_order=CLASS_ORDER_FMOW if dataset == "fmow" else CLASS_ORDER_YFCC,
            notes=notes,
        ))


_register_torchspatial()

# --------------------------------------------------------------------------- GeoCLIP (MIT, PyPI wheel)
register_pretrained(PretrainedSpec(
    name="geoclip",
    source="pip-wheel",
    pip_package="geoclip",
    filename="geoclip/model/weights/location_encoder_weights.pth",
    hf_repo="VicenteVivanco/geoclip-location-encoder",
    url="https://pypi.org/project/geoclip/",
    converter="geoclip",
    license="MIT",
    redistributable=True,
    citation=GEOCLIP_CITATION,
    homepage="https://github.com/VicenteVivan/geo-clip",
    description=("GeoCLIP location encoder: Equal Earth projection, three random-Fourier-feature branches "
                 "(sigma 2^0, 2^4, 2^8) each with a 3 x 1024 ReLU MLP and a 512-d head, summed (9.45 M params). "
                 "Read from the installed `geoclip` wheel (pip install geoclip); never imports geoclip itself."),
    coordinate_convention=("(lat, lon) degrees, LATITUDE FIRST, projected to Equal Earth inside the encoder; "
                           "geoloc-embed takes (lon, lat) and reorders internally"),
    training_data="MP-16 (4.7 M geo-tagged Flickr images), CLIP ViT-L/14 image features",
    expected={"position_encoder": {"family": "equal-earth-rff"}, "network": {"name": "mlp", "embed_dim": 512}},
    metrics={"im2gps3k (paper)": {"acc@1km": 14.1, "acc@25km": 34.5, "acc@200km": 50.7,
                                  "acc@750km": 69.7, "acc@2500km": 83.8}},
    notes=("Also published as safetensors on Hugging Face (VicenteVivanco/geoclip-location-encoder), in GeoCLIP's "
           "own layout."),
), aliases=("geoclip-location-encoder",))

# --------------------------------------------------------------------------- SatCLIP (MIT, Hugging Face)
_SATCLIP_BACKBONES = {"resnet18": "ResNet18", "resnet50": "ResNet50", "vit16": "ViT16"}
for _backbone, _pretty in _SATCLIP_BACKBONES.items():
    for _degree in (10, 40):
        register_pretrained(PretrainedSpec(
            name=f"satclip-{_backbone}-l{_degree}",
            source="hf",
            hf_repo=f"microsoft/SatCLIP-{_pretty}-L{_degree}",
            filename=f"satclip-{_backbone}-l{_degree}.ckpt",
            url=f"https://satclip.z13.web.core.windows.net/satclip/satclip-{_backbone}-l{_degree}.ckpt",
            converter="satclip",
            license="MIT",
            redistributable=True,
            citation=SATCLIP_CITATION,
            homepage="https://github.com/microsoft/satclip",
            description=(f"SatCLIP location encoder (spherical harmonics L = {_degree} + SIREN, 256-d), trained "
                         f"contrastively against a {_pretty} Sentinel-2 image encoder. Location branch only; the "
                         "Lightning checkpoint is read without executing pickled code."),
            coordinate_convention="(lon, lat) degrees, float64 in the original code",
            training_data="S2-100K: 100k Sentinel-2 tiles sampled uniformly over land (torchgeo/s2-100k)",
            expected={"position_encoder": {"family": "spherical-harmonics", "sh_degree": _degree},
                      "network": {"name": "siren", "embed_dim": 256}},
            notes="The model card marks SatCLIP as not intended for production use.",
        ))
del _backbone, _pretty, _degree
