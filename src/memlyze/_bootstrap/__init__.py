"""Start-up of tracking inside a profiled Python process (``memlyze record``).

``memlyze record`` puts this folder at the front of ``PYTHONPATH`` and the
recording options (encoded by record_environment.write_config) in the
``MEMLYZE_RECORD`` environment variable, then execs the command. The first
Python process that starts imports ``sitecustomize`` from here, which
consumes the variable, restores ``PYTHONPATH``, starts the tracker
(record_environment.activate) and chains to the ``sitecustomize`` that would
otherwise have been imported.
"""
