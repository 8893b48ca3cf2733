"""The pages' string table: each string stored once, referred to by index."""

from __future__ import annotations


class StringTable:
    """Strings stored once and referred to by index; index 0 is ""."""

    def __init__(self):
        self.table = [""]
        self.index = {"": 0}

    def __call__(self, text: str) -> int:
        found = self.index.get(text)
        if found is None:
            found = self.index[text] = len(self.table)
            self.table.append(text)
        return found
