"""Starting and stopping a tracker inside a running CPython that was started
without memlyze (``memlyze attach PID``, ``memlyze detach PID``).

The command line side: :mod:`.target_process` (what runs as PID),
:mod:`.ptrace_permission` (whether it may be traced, and why not),
:mod:`.injectors` (how Python code gets run inside it: gdb, and room for
PEP 768's ``sys.remote_exec``), :mod:`.exchange` (the private directory the
command and the target talk through). The target side: ``target_entry.py``
(the file the injected code runs) and :mod:`.session` (the attached tracker).
See docs/attach.md.
"""


class AttachError(Exception):
    """Why memlyze cannot attach to (or detach from) a process: one line."""
