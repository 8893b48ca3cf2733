"""The dynamic symbols of an ELF file (64-bit, little-endian), and the bytes
at a symbol's address: what CPython an executable or libpython is, read
from the file rather than guessed from its name (a free-threaded build
installs python3.13 and python3.13t as one file)."""

from __future__ import annotations

import struct
from typing import BinaryIO, NamedTuple

_SECTION_HEADER = struct.Struct("<IIQQQQIIQQ")
_PROGRAM_HEADER = struct.Struct("<IIQQQQQQ")
_SYMBOL = struct.Struct("<IBBHQQ")
_SHT_DYNSYM = 11
_PT_LOAD = 1
# Sections and tables past these sizes are not a real library's.
_MOST_SECTIONS = 1 << 16
_MOST_SYMBOLS_BYTES = 64 << 20


class Symbol(NamedTuple):
    value: int  # the address, before the library is relocated
    size: int
    defined: bool


class ElfError(ValueError):
    """The file is not an ELF file this reader understands."""


def _read(handle: BinaryIO, offset: int, size: int) -> bytes:
    handle.seek(offset)
    data = handle.read(size)
    if len(data) != size:
        raise ElfError("truncated")
    return data


def _header(handle: BinaryIO) -> tuple[int, int, int, int, int, int]:
    """(program header offset, size, count, section header offset, size, count)."""
    ident = _read(handle, 0, 64)
    if ident[:4] != b"\x7fELF" or ident[4] != 2 or ident[5] != 1:
        raise ElfError("not a 64-bit little-endian ELF file")
    program_offset, section_offset = struct.unpack_from("<QQ", ident, 0x20)
    program_size, program_count, section_size, section_count = struct.unpack_from(
        "<HHHH", ident, 0x36)
    return program_offset, program_size, program_count, section_offset, section_size, section_count


def _sections(handle: BinaryIO) -> list[tuple]:
    *_, offset, size, count = _header(handle)
    if size != _SECTION_HEADER.size or count > _MOST_SECTIONS:
        raise ElfError("unexpected section headers")
    table = _read(handle, offset, size * count)
    return [_SECTION_HEADER.unpack_from(table, index * size) for index in range(count)]


def dynamic_symbols(handle: BinaryIO) -> dict[str, Symbol]:
    """Every symbol of the file's dynamic symbol table, by name."""
    sections = _sections(handle)
    symbols = {}
    for _name, kind, _flags, _address, offset, size, link, _info, _align, entry in sections:
        if kind != _SHT_DYNSYM or entry != _SYMBOL.size or link >= len(sections):
            continue
        if size > _MOST_SYMBOLS_BYTES or sections[link][5] > _MOST_SYMBOLS_BYTES:
            raise ElfError("symbol table too large")
        table = _read(handle, offset, size)
        strings = _read(handle, sections[link][4], sections[link][5])
        for index in range(size // entry):
            name_offset, _, _, section_index, value, symbol_size = _SYMBOL.unpack_from(
                table, index * entry)
            end = strings.find(b"\0", name_offset)
            if name_offset and end > name_offset:
                name = strings[name_offset:end].decode("ascii", "replace")
                symbols[name] = Symbol(value, symbol_size, section_index != 0)
    return symbols


def read_symbol(handle: BinaryIO, symbol: Symbol) -> bytes:
    """The file's bytes of a defined data symbol (found through the loadable
    segment holding its address)."""
    offset, size, count, *_ = _header(handle)
    if size != _PROGRAM_HEADER.size or count > _MOST_SECTIONS:
        raise ElfError("unexpected program headers")
    table = _read(handle, offset, size * count)
    for index in range(count):
        kind, _, file_offset, address, _, file_size, _, _ = _PROGRAM_HEADER.unpack_from(
            table, index * size)
        if kind == _PT_LOAD and address <= symbol.value and \
                symbol.value + symbol.size <= address + file_size:
            return _read(handle, file_offset + symbol.value - address, symbol.size)
    raise ElfError("symbol outside the file's loadable segments")
