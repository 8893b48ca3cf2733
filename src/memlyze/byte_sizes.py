"""Parsing byte sizes written by people: ``512KiB``, ``1MiB``, ``4096``, ``2 MB``."""

from __future__ import annotations

import re

_UNITS = {
    "": 1, "b": 1,
    "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
    "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_byte_size(text) -> int:
    """Returns the number of bytes text names; ValueError says why not.

    Binary units (KiB, MiB, GiB, and the bare K, M, G) are powers of 1024;
    decimal units (kB, MB, GB) are powers of 1000. The result is positive.
    """
    if isinstance(text, bool):
        raise ValueError(f"not a byte size: {text!r}")
    if isinstance(text, int):
        value = text
    else:
        match = _PATTERN.match(str(text))
        unit = match.group(2).lower() if match else None
        if not match or unit not in _UNITS:
            raise ValueError(f"not a byte size: {text!r} (use e.g. 512KiB, 1MiB or 4096)")
        value = float(match.group(1)) * _UNITS[unit]
        if value != int(value):
            raise ValueError(f"not a whole number of bytes: {text!r}")
        value = int(value)
    if value <= 0:
        raise ValueError(f"a byte size must be positive, not {text!r}")
    return value
