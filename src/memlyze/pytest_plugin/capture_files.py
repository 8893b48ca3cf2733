"""Where each test's capture goes: a kept folder (--memlyze-bin-path) or a
temporary one removed at the end of the run."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile

_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                             "0123456789._-[]=,+")
_LONGEST_STEM = 180  # file names stay under the usual 255-byte limit


def capture_stem(nodeid: str) -> str:
    """A file name stem for a test id: readable, stable across runs (so
    --memlyze-fail-on-increase finds the previous run's capture), unique."""
    stem = nodeid.replace("::", "--").replace("/", "-")
    stem = "".join(character if character in _NAME_CHARACTERS else "-" for character in stem)
    stem = stem.lstrip(".-") or "test"
    if len(stem) > _LONGEST_STEM or stem != nodeid.replace("::", "--").replace("/", "-"):
        # Two ids could map to one stem once characters are replaced or cut:
        # a digest of the id keeps them apart.
        digest = hashlib.sha1(nodeid.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        stem = f"{stem[:_LONGEST_STEM - 13]}-{digest}"
    return stem


class CaptureFolder:
    """Hands out capture paths; a temporary folder is made on first use."""

    def __init__(self, kept_folder: str | None):
        self.kept = kept_folder is not None
        self._folder = kept_folder
        if kept_folder is not None:
            os.makedirs(kept_folder, exist_ok=True)

    def path(self, nodeid: str, suffix: str = ".mlyze") -> str:
        if self._folder is None:
            self._folder = tempfile.mkdtemp(prefix="memlyze-pytest-")
        return os.path.join(self._folder, capture_stem(nodeid) + suffix)

    def discard(self, path: str) -> None:
        """Removes a capture that is not to be kept."""
        if not self.kept:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def close(self) -> None:
        if not self.kept and self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
