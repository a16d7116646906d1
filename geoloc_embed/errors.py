"""Exception types raised by geoloc_embed.

Every error names the problem and the fix; the classes subclass the built-in exception a
caller would naturally catch (``ValueError`` for bad input, ``KeyError`` for unknown names,
``FileNotFoundError`` for missing weights).
"""

__all__ = [
    "GeolocEmbedError",
    "CoordinateError",
    "ConfigError",
    "UnknownModelError",
    "PretrainedNotFoundError",
    "WeightsError",
]


class GeolocEmbedError(Exception):
    """Base class of every error raised on purpose by geoloc_embed."""


class CoordinateError(GeolocEmbedError, ValueError):
    """Coordinates that cannot be what the caller declared (NaN, |lat| > 90, wrong shape, ...)."""


class ConfigError(GeolocEmbedError, ValueError):
    """An invalid or unknown field in a ``LocationEncoderConfig`` or a ``config.json``."""


class UnknownModelError(GeolocEmbedError, KeyError):
    """A pretrained model name that is neither registered nor an existing path."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class PretrainedNotFoundError(GeolocEmbedError, FileNotFoundError):
    """A registered model whose weights could not be found anywhere that was tried."""


class WeightsError(GeolocEmbedError, ValueError):
    """A weight file that is corrupted, tampered with, or does not match its architecture."""
