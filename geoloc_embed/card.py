"""Model cards (``README.md`` beside the weights), written without Jinja2."""

from typing import Any, Optional

from .config import LocationEncoderConfig

__all__ = ["render_model_card"]


def render_model_card(config: LocationEncoderConfig, spec: Optional[Any] = None,
                      num_params: Optional[int] = None, citation: Optional[str] = None) -> str:
    """Markdown model card with Hugging Face YAML front matter.

    ``spec`` is the registry entry (``PretrainedSpec``) when the weights are a registered model;
    its license, description, training data, metrics and citation fill the card. ``citation``
    (BibTeX) is used when the spec has none; without either the card has no citation section.
    """
    license_ = getattr(spec, "license", None) or "other"
    if license_.lower() in ("none", "unknown", "unlicensed"):
        license_ = "other"  # Hugging Face's value for "no standard license"; the body says which
    name = getattr(spec, "name", None) or "location encoder"
    family, network = config.position_encoder.family, config.network.name
    lines = [
        "---",
        f"license: {license_}",
        "library_name: geoloc-embed",
        "tags:",
        "- location-encoder",
        "- geospatial",
        f"- {family}",
        "---",
        "",
        f"# {name}",
        "",
    ]
    description = getattr(spec, "description", None)
    if description:
        lines += [description, ""]
    lines += [
        "## Usage",
        "",
        "```python",
        "import geoloc_embed as ge",
        f"enc = ge.LocationEncoder.from_pretrained({(getattr(spec, 'name', None) or 'path/to/this/dir')!r})",
        "emb = enc.encode([[2.35, 48.86]], order=\"lonlat\")  # (1, %d) float32" % config.embed_dim,
        "```",
        "",
        "## Coordinates",
        "",
        "Inputs to `encode` are degrees in the order you declare (`order=\"lonlat\"` or `\"latlon\"`);",
        "`forward` takes a (N, 2) tensor of [longitude, latitude] in degrees. Any normalisation the",
        f"original model needs is done inside the `{family}` position encoder.",
        "",
        "## Architecture",
        "",
        f"- position encoder: `{family}` ({_fields(config.position_encoder.to_dict(), 'family')})",
        f"- network: `{network}` ({_fields(config.network.to_dict(), 'name')})",
        f"- embedding size: {config.embed_dim}",
        f"- class head: {config.num_classes or 'none'}",
    ]
    if num_params is not None:
        lines.append(f"- parameters: {num_params:,}")
    for title, attr in (("Training data", "training_data"), ("Classes", "class_order"), ("Source", "source_url")):
        value = getattr(spec, attr, None)
        if value:
            lines += ["", f"## {title}", "", str(value)]
    metrics = getattr(spec, "metrics", None)
    if metrics:
        lines += ["", "## Reported metrics", ""]
        lines += [f"- {key}: {value}" for key, value in metrics.items()]
    if spec is not None:
        lines += ["", "## License", "", f"{getattr(spec, 'license', 'not stated')}"]
        if getattr(spec, "redistributable", True) is False:
            lines.append("These weights may not be redistributed: they were downloaded and converted on this machine.")
    citation = getattr(spec, "citation", None) or citation
    if citation:
        lines += ["", "## Citation", "", "```bibtex", citation, "```"]
    lines.append("")
    return "\n".join(lines)


def _fields(values: dict[str, Any], skip: str) -> str:
    """``a=1, b=0.5`` for a sub-config's fields (or "no hyperparameters")."""
    return ", ".join(f"{key}={value}" for key, value in values.items() if key != skip) or "no hyperparameters"
