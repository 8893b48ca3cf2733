"""The engine's limits on recording options (src/binding/types/tracker_binding.c).

A module of their own so that the command line can check its options
without loading the tracker and its C extension before the exec.
"""

MAX_STACK_DEPTH_LIMIT = 4096
MAX_RSS_INTERVAL = 3600.0
