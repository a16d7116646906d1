"""Pieces every ``geoloc-embed`` command shares: the user-facing error, argument types, SIGTERM handling.

Nothing here imports torch or the model code; commands import what they need when they run.
"""

import argparse
import contextlib
import signal
import threading
from typing import Any, Iterator, Optional

from ..encoders.model import LocationEncoder
from ..zoo import DEFAULT_MODEL

__all__ = ["PROG", "CLIError", "Terminated", "positive_int", "one_line", "load_model", "sigterm_raises"]

PROG = "geoloc-embed"


class CLIError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


class Terminated(BaseException):
    """SIGTERM arrived while a command ran: unwinds like KeyboardInterrupt (temp files are removed), exit 143."""


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def one_line(exc: BaseException) -> str:
    """The exception's message on one line (KeyError's without the quotes repr adds)."""
    message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    return " ".join(part.strip() for part in str(message).splitlines() if part.strip()) or type(exc).__name__


def load_model(name: Optional[str], local_files_only: bool, device: Optional[str]) -> Any:
    """``LocationEncoder.from_pretrained(name)`` on ``device`` (default CPU); the bundled default for no name."""
    if not name:
        if DEFAULT_MODEL is None:
            raise CLIError("no default model bundled yet; pass --model NAME|PATH (see geoloc-embed list)")
        name = DEFAULT_MODEL
    return LocationEncoder.from_pretrained(name, local_files_only=bool(local_files_only),
                                           map_location=device or "cpu")


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated(f"terminated by signal {signum}")


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Inside: SIGTERM raises :class:`Terminated` in the main thread, so ``finally``/``except BaseException``
    blocks run (writers delete their temp files) as they do for Ctrl-C. The previous handler is restored
    on exit; outside the main thread (where signals cannot be handled) this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
