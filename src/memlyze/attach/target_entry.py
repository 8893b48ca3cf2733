"""Runs inside the attached process, in its main thread with the GIL held,
where an injector put it (a pending call from gdb; ``sys.remote_exec`` on a
later CPython): exec'd by the exchange directory's run.py, with
REQUEST_DIRECTORY and PACKAGE_ROOT in its globals, never imported.

It takes the request (unless the command withdrew it), makes memlyze
importable from the installation of the command that asked, only for that
import, and hands the request to memlyze.attach.session. Whatever goes
wrong is written back as the answer; nothing is printed and nothing raised
in the program.
"""


def _answer(directory, state, message, name="status"):
    """Writes an answer (exchange.py): whole or not at all."""
    import os

    partial = os.path.join(directory, name + ".partial")
    with open(partial, "w", encoding="utf-8") as handle:
        handle.write(f"{state}\n{' '.join(str(message).split())}\n")
    os.replace(partial, os.path.join(directory, name))


def _import_session(package_root):
    """memlyze.attach.session, imported from package_root when this process
    has no memlyze yet; sys.path is left as it was."""
    import sys

    added = package_root not in sys.path
    if added:
        sys.path.insert(0, package_root)
    try:
        from memlyze.attach import session
    finally:
        if added:
            try:
                sys.path.remove(package_root)
            except ValueError:
                pass
            sys.path_importer_cache.pop(package_root, None)
    return session


def _run(directory, package_root):
    import os

    request = os.path.join(directory, "request")
    taken = os.path.join(directory, "request.taken")
    try:
        os.rename(request, taken)
    except OSError:
        return  # withdrawn by the command that gave up waiting, or run twice
    try:
        session = _import_session(package_root)
    except BaseException as error:
        _answer(directory, "error",
                f"process {os.getpid()} cannot load memlyze from {package_root}: "
                f"{type(error).__name__}: {error}")
        return
    state, message = session.handle(directory, taken, _answer)
    _answer(directory, state, message)


try:
    _run(REQUEST_DIRECTORY, PACKAGE_ROOT)  # noqa: F821 (given by run.py)
except BaseException:
    pass
