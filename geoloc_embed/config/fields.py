"""Validation rules of typed config fields, stored in each dataclass field's metadata.

A rule checks the exact JSON type first (a bool field takes only ``True``/``False``; an int field
rejects bools and floats; a float field takes ints and floats but only finite ones; a tuple field
takes a list or tuple of the right length), then the range. ``check`` returns the normalised value
(ints of float fields become floats, lists become tuples) so that configs read from JSON compare
equal to configs built in Python.

Upper bounds on sizes (scales, widths, layers, anchors, ...) reject absurd values before anything
is allocated: ``frequency_num=10**7`` fails here with the field's name instead of as an 82 GB
allocation. They are generous sanity bounds, not a memory budget; the loader checks a weights
file's tensor shapes against the config before building the model.
"""

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any, Optional

from ..errors import ConfigError

__all__ = [
    "Rule",
    "bool_field",
    "choice_field",
    "float_field",
    "float_tuple_field",
    "int_field",
    "validate_fields",
    "fail",
]

_RULE = "geoloc_embed.rule"


def fail(owner: str, name: str, value: Any, allowed: str) -> ConfigError:
    """The one error format: who, which field, the bad value and what is allowed."""
    return ConfigError(f"{owner}: {name}={value!r} is not allowed; expected {allowed}")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@dataclass(frozen=True)
class Rule:
    """What one field accepts.

    kind: "int", "float", "bool", "choice" or "float_tuple".
    minimum, maximum: inclusive bounds (``exclusive_minimum`` makes the lower one strict) of the
        value, or for "float_tuple" of every element.
    choices: the allowed strings ("choice").
    length, max_length: exact / largest number of elements ("float_tuple").
    note: why a bound exists, appended to the error message.
    """

    kind: str
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    choices: tuple[str, ...] = ()
    length: Optional[int] = None
    max_length: Optional[int] = None
    note: str = ""

    def _range(self) -> str:
        parts = []
        if self.minimum is not None:
            parts.append(f"{'>' if self.exclusive_minimum else '>='} {self.minimum:g}")
        if self.maximum is not None:
            parts.append(f"{'<' if self.exclusive_maximum else '<='} {self.maximum:g}")
        return " and ".join(parts)

    def describe(self) -> str:
        """What is allowed, in words (used by every error message)."""
        span = self._range()
        if self.kind == "int":
            text = "an integer (not a bool or a float)" + (f" {span}" if span else "")
        elif self.kind == "float":
            text = "a finite number (not a bool or a string)" + (f" {span}" if span else "")
        elif self.kind == "bool":
            text = "true or false (a JSON boolean, not a string, number or null)"
        elif self.kind == "choice":
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        else:
            count = (f"exactly {self.length}" if self.length is not None
                     else f"1 to {self.max_length}" if self.max_length is not None else "one or more")
            text = f"a list of {count} finite numbers" + (f", each {span}" if span else "")
        return text + (f" ({self.note})" if self.note else "")

    def _in_range(self, value: float) -> bool:
        if self.minimum is not None and (value <= self.minimum if self.exclusive_minimum else value < self.minimum):
            return False
        if self.maximum is not None and (value >= self.maximum if self.exclusive_maximum else value > self.maximum):
            return False
        return True

    def check(self, owner: str, name: str, value: Any) -> Any:
        """The normalised ``value``, or a ``ConfigError`` naming ``owner``, ``name`` and the value."""
        if self.kind == "bool":
            if type(value) is not bool:
                raise fail(owner, name, value, self.describe())
            return value
        if self.kind == "choice":
            if not isinstance(value, str) or value not in self.choices:
                raise fail(owner, name, value, self.describe())
            return value
        if self.kind == "int":
            if not _is_int(value) or not self._in_range(int(value)):
                raise fail(owner, name, value, self.describe())
            return int(value)
        if self.kind == "float":
            if not _is_real(value) or not math.isfinite(float(value)) or not self._in_range(float(value)):
                raise fail(owner, name, value, self.describe())
            return float(value)
        if self.kind == "float_tuple":
            if not isinstance(value, (list, tuple)):
                raise fail(owner, name, value, self.describe())
            size_ok = (len(value) == self.length if self.length is not None
                       else 1 <= len(value) <= (self.max_length or len(value) or 1))
            elements_ok = all(_is_real(v) and math.isfinite(float(v)) and self._in_range(float(v)) for v in value)
            if not (size_ok and elements_ok):
                raise fail(owner, name, value, self.describe())
            return tuple(float(v) for v in value)
        raise AssertionError(f"unknown rule kind {self.kind!r}")  # pragma: no cover - programming error


def _field(default: Any, rule: Rule) -> Any:
    return dataclasses.field(default=default, metadata={_RULE: rule})


def int_field(default: int, *, minimum: int, maximum: int, note: str = "") -> Any:
    """An int field with inclusive bounds (``note`` explains the upper bound)."""
    return _field(default, Rule("int", minimum=minimum, maximum=maximum, note=note))


def float_field(default: float, *, minimum: Optional[float] = None, maximum: Optional[float] = None,
                exclusive_minimum: bool = False, exclusive_maximum: bool = False, note: str = "") -> Any:
    """A finite float field (ints accepted and stored as floats)."""
    return _field(default, Rule("float", minimum=minimum, maximum=maximum, exclusive_minimum=exclusive_minimum,
                                exclusive_maximum=exclusive_maximum, note=note))


def bool_field(default: bool) -> Any:
    """A field that takes only ``True`` or ``False``."""
    return _field(default, Rule("bool"))


def choice_field(default: str, choices: tuple[str, ...]) -> Any:
    """A string field from a fixed set."""
    return _field(default, Rule("choice", choices=choices))


def float_tuple_field(default: tuple[float, ...], *, length: Optional[int] = None, max_length: Optional[int] = None,
                      minimum: Optional[float] = None, exclusive_minimum: bool = False, note: str = "") -> Any:
    """A tuple of finite floats (JSON lists accepted), of an exact or bounded length."""
    return _field(default, Rule("float_tuple", length=length, max_length=max_length, minimum=minimum,
                                exclusive_minimum=exclusive_minimum, note=note))


def validate_fields(instance: Any, owner: str) -> None:
    """Check every field of the dataclass ``instance`` that has a rule, storing the normalised values."""
    for f in dataclasses.fields(instance):
        rule = f.metadata.get(_RULE)
        if rule is not None:
            object.__setattr__(instance, f.name, rule.check(owner, f.name, getattr(instance, f.name)))
