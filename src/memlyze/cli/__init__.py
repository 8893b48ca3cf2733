"""The ``memlyze`` command line: one module per command, dispatched by main.py."""
