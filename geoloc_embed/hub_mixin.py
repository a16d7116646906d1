"""``HubMixin``: ``save_pretrained`` and ``push_to_hub`` without importing huggingface_hub up front.

It stands in for ``huggingface_hub.PyTorchModelHubMixin``, whose import alone (``hf_api``,
``file_download``, an HTTP client, ``filelock``...) cost more than the rest of ``import geoloc_embed``
put together. ``huggingface_hub`` is imported only inside ``push_to_hub``, the one method that
talks to the Hub; saving to a local directory never imports it.

A subclass provides ``_save_pretrained(save_directory)``, which writes every file of the model
directory (for ``LocationEncoder``: ``model.safetensors``, ``config.json`` and, when absent, the
``README.md`` model card, see ``geoloc_embed.card``). ``save_pretrained`` runs it in a new directory beside
the target and swaps that in whole (``geoloc_embed.io.replace_directory``): a failure while writing
leaves the old directory intact, and readers never see a mix of old and new files. Loading is the
subclass's own ``from_pretrained``. ``tests/test_hub_mixin.py`` pins the signatures to
``PyTorchModelHubMixin``'s.
"""

import os
import tempfile
from pathlib import Path
from typing import Any, Optional, Union

from .io import CARD_NAME, replace_directory

__all__ = ["DEFAULT_COMMIT_MESSAGE", "HubMixin"]

#: Commit message of ``push_to_hub`` when none is given.
DEFAULT_COMMIT_MESSAGE = "Push model using geoloc-embed"


class HubMixin:
    """Adds ``save_pretrained`` and ``push_to_hub`` to a class that implements ``_save_pretrained``.

    Same arguments and behaviour as ``huggingface_hub.PyTorchModelHubMixin``'s methods of those
    names, minus the mixin's own ``config.json`` and model-card writing (``_save_pretrained`` writes
    both) and its ``config=``/``model_card_kwargs=`` arguments.
    """

    def _save_pretrained(self, save_directory: Path) -> None:
        """Write the model's files into the existing directory ``save_directory`` (subclass hook)."""
        raise NotImplementedError(f"{type(self).__name__} must implement _save_pretrained(save_directory)")

    def save_pretrained(
        self,
        save_directory: Union[str, "os.PathLike[str]"],
        *,
        repo_id: Optional[str] = None,
        push_to_hub: bool = False,
        **push_to_hub_kwargs: Any,
    ) -> Optional[str]:
        """Save the model into ``save_directory`` (created with its parents if needed), atomically.

        The new directory is built beside ``save_directory`` and swapped in whole; if anything fails
        (an exception, a full disk), the old directory stays as it was.

        Args:
            save_directory: directory to write; files already there with other names are kept, and so
                is an existing ``README.md`` (as ``PyTorchModelHubMixin`` does).
            repo_id: Hub repository to push to (``"user/name"``); used only with ``push_to_hub=True``,
                defaults to the directory's name.
            push_to_hub: also upload the model to the Hugging Face Hub (see ``push_to_hub``).
            **push_to_hub_kwargs: passed on to ``push_to_hub`` (``commit_message``, ``private``,
                ``token``, ``branch``, ...); ignored unless ``push_to_hub=True``.

        Returns:
            The commit URL (a ``huggingface_hub.CommitInfo``, a ``str``) when pushing, else None.
        """
        save_directory = Path(save_directory)
        replace_directory(save_directory, self._save_pretrained, keep_existing=True, seed=(CARD_NAME,))
        if push_to_hub:
            if repo_id is None:
                repo_id = save_directory.name
            return self.push_to_hub(repo_id, **push_to_hub_kwargs)
        return None

    def push_to_hub(
        self,
        repo_id: str,
        *,
        commit_message: str = DEFAULT_COMMIT_MESSAGE,
        private: Optional[bool] = None,
        token: Optional[str] = None,
        branch: Optional[str] = None,
        create_pr: Optional[bool] = None,
        allow_patterns: Union[list[str], str, None] = None,
        ignore_patterns: Union[list[str], str, None] = None,
        delete_patterns: Union[list[str], str, None] = None,
    ) -> str:
        """Upload the model to the Hugging Face Hub in one commit.

        Creates ``repo_id`` if it does not exist, saves the model into a temporary directory with
        ``save_pretrained`` and uploads that folder with ``HfApi.upload_folder``.

        Args:
            repo_id: repository to push to, e.g. ``"username/my-location-encoder"``.
            commit_message: message of the commit.
            private: whether a newly created repository is private (None: the account's default).
            token: Hugging Face token (default: the one saved by ``hf auth login`` / ``$HF_TOKEN``).
            branch: branch to push to (default ``main``).
            create_pr: open a pull request from ``branch`` instead of committing directly.
            allow_patterns: push only the files matching at least one of these patterns.
            ignore_patterns: do not push the files matching any of these patterns.
            delete_patterns: delete the remote files matching these patterns in the same commit.

        Returns:
            The commit URL (``huggingface_hub.CommitInfo``, a ``str`` subclass).
        """
        from huggingface_hub import HfApi

        api = HfApi(token=token)
        repo_id = api.create_repo(repo_id=repo_id, private=private, exist_ok=True).repo_id
        # ignore_cleanup_errors: a file still held open (Windows) must not fail a finished upload.
        with tempfile.TemporaryDirectory(prefix="geoloc-embed-push-", ignore_cleanup_errors=True) as tmp:
            saved_path = Path(tmp) / repo_id
            self.save_pretrained(saved_path)
            return api.upload_folder(
                repo_id=repo_id,
                repo_type="model",
                folder_path=saved_path,
                commit_message=commit_message,
                revision=branch,
                create_pr=create_pr,
                allow_patterns=allow_patterns,
                ignore_patterns=ignore_patterns,
                delete_patterns=delete_patterns,
            )
