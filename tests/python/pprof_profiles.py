"""Reads a gzipped pprof profile (profile.proto) through the tests' protobuf
decoder (report_readers), so tests can check every value memlyze wrote, per
location, without a protobuf library."""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field

from report_readers import protobuf_fields, protobuf_packed


def _fields(data: bytes):
    """(field number, value) pairs of one message."""
    return ((number, value) for number, _wire, value in protobuf_fields(data))


def _packed(value) -> list[int]:
    return protobuf_packed(0 if isinstance(value, int) else 2, value)


@dataclass
class Sample:
    stack: list[tuple[str, str, int]]  # (function, file, line), innermost first
    values: dict[str, int]
    labels: dict[str, str]


@dataclass
class Profile:
    sample_types: list[str] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    period_type: tuple[str, str] = ("", "")
    period: int = 0
    time_nanos: int = 0
    duration_nanos: int = 0
    comments: list[str] = field(default_factory=list)
    default_sample_type: str = ""

    def by_location(self, value: str) -> dict[tuple[str, int], int]:
        """value summed per innermost (function, line)."""
        totals: dict[tuple[str, int], int] = {}
        for sample in self.samples:
            function, _, line = sample.stack[0]
            totals[(function, line)] = totals.get((function, line), 0) + sample.values[value]
        return totals

    def total(self, value: str) -> int:
        return sum(sample.values[value] for sample in self.samples)


def read_profile(path) -> Profile:
    with open(path, "rb") as stream:
        data = gzip.decompress(stream.read())
    raw: dict[int, list] = {}
    for number, value in _fields(data):
        raw.setdefault(number, []).append(value)
    strings = [text.decode("utf-8", "surrogateescape") for text in raw.get(6, [])]

    def value_type(message: bytes) -> tuple[str, str]:
        parts = dict(_fields(message))
        return strings[parts.get(1, 0)], strings[parts.get(2, 0)]

    functions = {}
    for message in raw.get(5, []):
        parts = dict(_fields(message))
        functions[parts[1]] = (strings[parts.get(2, 0)], strings[parts.get(4, 0)])
    locations = {}
    for message in raw.get(4, []):
        parts = list(_fields(message))
        identifier = next(value for number, value in parts if number == 1)
        line = dict(_fields(next(value for number, value in parts if number == 4)))
        name, file_name = functions[line[1]]
        locations[identifier] = (name, file_name, line.get(2, 0))

    profile = Profile()
    profile.sample_types = [value_type(message)[0] for message in raw.get(1, [])]
    if 11 in raw:
        profile.period_type = value_type(raw[11][0])
    profile.period = raw.get(12, [0])[0]
    profile.time_nanos = raw.get(9, [0])[0]
    profile.duration_nanos = raw.get(10, [0])[0]
    profile.comments = [strings[index] for index in raw.get(13, [])]
    profile.default_sample_type = strings[raw.get(14, [0])[0]]
    for message in raw.get(2, []):
        location_ids, values, labels = [], [], {}
        for number, value in _fields(message):
            if number == 1:
                location_ids += _packed(value)
            elif number == 2:
                values += _packed(value)
            elif number == 3:
                label = dict(_fields(value))
                labels[strings[label[1]]] = strings[label.get(2, 0)]
        profile.samples.append(Sample([locations[index] for index in location_ids],
                                      dict(zip(profile.sample_types, values)), labels))
    return profile
