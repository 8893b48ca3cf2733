"""A program whose memory is spread out: FUNCTIONS distinct functions (made
with exec, each its own code object and name) each hold one buffer of
BUFFER_BYTES at the peak. With the defaults, 2,000 functions of 71 KiB:
no function holds more than 0.05% of the peak."""

import sys

FUNCTIONS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
BUFFER_BYTES = int(sys.argv[2]) if len(sys.argv) > 2 else 71 * 1024
KEEP = []

namespace = {"KEEP": KEEP, "BUFFER_BYTES": BUFFER_BYTES}
source = "".join(f"def function_{index:04d}():\n    KEEP.append(bytearray(BUFFER_BYTES))\n"
                 for index in range(FUNCTIONS))
exec(compile(source, "spread_functions_generated.py", "exec"), namespace)


def main():
    for index in range(FUNCTIONS):
        namespace[f"function_{index:04d}"]()
    KEEP.clear()


main()
