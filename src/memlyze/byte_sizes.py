"""Parsing byte sizes written by people: ``512KiB``, ``1MiB``, ``4096``, ``2 MB``."""

_UNITS = {
    "": 1, "b": 1,
    "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
    "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}


def _split_number_and_unit(text):
    """("512", "kib") for "512KiB"; None when text is not a number and a unit.
    (Parsed by hand: importing re would cost every recording process ~3 ms.)"""
    text = text.strip()
    end = len(text)
    while end and text[end - 1].isalpha():
        end -= 1
    number, unit = text[:end].strip(), text[end:]
    whole, _, fraction = number.partition(".")
    if not (whole.isdigit() and whole.isascii()) or (fraction and not
                                                     (fraction.isdigit() and fraction.isascii())):
        return None
    if number.endswith("."):
        return None
    return number, unit.lower()


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
        parts = _split_number_and_unit(str(text))
        if not parts or parts[1] not in _UNITS:
            raise ValueError(f"not a byte size: {text!r} (use e.g. 512KiB, 1MiB or 4096)")
        value = float(parts[0]) * _UNITS[parts[1]]
        if value != int(value):
            raise ValueError(f"not a whole number of bytes: {text!r}")
        value = int(value)
    if value <= 0:
        raise ValueError(f"a byte size must be positive, not {text!r}")
    return value
