"""A program with LOCATIONS distinct allocation sites, each holding one
buffer at the peak: LOCATIONS functions (made with exec, each its own code
object and name), each keeping one bytearray of 600 to 1,599 bytes (above
pymalloc's 512-byte limit: one malloc each) until the program ends, when one
64 MiB buffer makes the peak. Its table has a row per function, and a few
more (that buffer, the interpreter's own)."""

import sys

LOCATIONS = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
KEEP = []

CHUNK = 500  # functions compiled at a time: compiling all at once would be the peak

for first in range(0, LOCATIONS, CHUNK):
    namespace = {"KEEP": KEEP}
    source = "".join(f"def function_{index:06d}():\n    KEEP.append(bytearray({600 + index % 1000}))\n"
                     for index in range(first, min(first + CHUNK, LOCATIONS)))
    exec(compile(source, f"spread_locations_{first:06d}.py", "exec"), namespace)
    for index in range(first, min(first + CHUNK, LOCATIONS)):
        namespace[f"function_{index:06d}"]()

# The peak, after every buffer: a last compile's garbage is not above it.
KEEP.append(bytearray(64 * 1024 * 1024))
