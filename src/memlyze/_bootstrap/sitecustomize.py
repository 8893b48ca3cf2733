"""memlyze's start-up hook; see memlyze/_bootstrap/__init__.py.

This file is imported as the top-level module ``sitecustomize`` by any Python
process whose PYTHONPATH holds this folder. It must stay cheap and must not
leave traces: it removes its folder from sys.path and takes its environment
variable out of os.environ (so subprocesses are not tracked) before doing
anything else, and restores PYTHONPATH before tracking starts. With
--follow-subprocesses the variable and PYTHONPATH stay (and a followed
process, one whose options carry parent_pid, records into <output>.<pid>):
see subprocess_following.py.
"""


def _memlyze_bootstrap():
    import os
    import sys

    here = os.path.dirname(os.path.abspath(__file__))

    def same(entry):
        try:
            return os.path.normcase(os.path.abspath(entry or ".")) == os.path.normcase(here)
        except (TypeError, ValueError):
            return False

    sys.path[:] = [entry for entry in sys.path if not same(entry)]
    raw = os.environ.pop("MEMLYZE_RECORD", None)
    # Looked up before tracking starts, so that the search does not show in
    # the capture; a failure is raised where it was always raised, after.
    try:
        original = _find_original_sitecustomize(here)
    except Exception as error:
        original = error
    tracker_error = None
    if raw is not None:
        tracker_error = _start_tracking(here, raw)
    if tracker_error is not None:
        try:
            sys.stderr.write(f"memlyze: error: {tracker_error}\n")
            sys.stderr.flush()
        finally:
            os._exit(1)
    if isinstance(original, Exception):
        raise original
    if original is not None:
        _run_original_sitecustomize(original)


def _start_tracking(here, raw):
    """Tracks this process as ``raw`` (the variable's value) says; returns
    None, or why it could not."""
    import os
    import sys

    # Import memlyze from the installation that launched us, even if this
    # interpreter's own sys.path has another one or none. The tracker (and
    # its C extension) is loaded here so that a Python it was not built for
    # is reported as such.
    package_root = os.path.dirname(os.path.dirname(here))
    sys.path.insert(0, package_root)
    try:
        # Pure Python, loadable by any Python 3: a followed subprocess that
        # cannot load the tracker is noted, not stopped.
        from memlyze._bootstrap import record_environment
    except Exception as error:
        sys.path.remove(package_root)
        return (f"this Python ({sys.executable}, {sys.version.split()[0]}) cannot load "
                f"memlyze from {package_root}: {error}")
    try:
        config = record_environment.read_config(raw)
    except ValueError as error:
        sys.path.remove(package_root)
        return f"bad MEMLYZE_RECORD environment variable: {error}"
    descendant = record_environment.is_descendant(config)
    if descendant:
        # A followed subprocess: keep the hook for its own children.
        os.environ["MEMLYZE_RECORD"] = raw
    try:
        import memlyze.tracker  # noqa: F401
    except Exception as error:  # ImportError, or a broken install
        if descendant:
            from memlyze._bootstrap import subprocess_notes

            command = " ".join(getattr(sys, "orig_argv", None) or sys.argv)
            subprocess_notes.append(config.get("notes"), "cannot-load",
                                    f"{command} (Python {sys.version.split()[0]})")
            return None
        return (
            f"this Python ({sys.executable}, {sys.version.split()[0]}) cannot load "
            f"memlyze from {package_root}: {error}"
        )
    finally:
        try:
            sys.path.remove(package_root)
        except ValueError:
            pass
    pythonpath = config.get("pythonpath")
    if not descendant:
        # The top process: the program sees its environment as it was (a
        # followed recording exports the hook again when it starts).
        if pythonpath is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = pythonpath
    return record_environment.activate(config)


def _find_original_sitecustomize(here):
    """The spec of the sitecustomize that our folder shadowed, or None.

    What running it needs is imported here too, before tracking starts, so
    that memlyze's own start-up does not show in the capture (importlib.util
    only when there is one to run: it costs ~1.5 ms).
    """
    import importlib.machinery
    import os
    import sys

    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", sys.path)
    if spec is None or spec.loader is None:
        return None
    origin = spec.origin or ""
    if os.path.dirname(os.path.abspath(origin)) == here:
        return None
    import importlib.util  # noqa: F401

    return spec


def _run_original_sitecustomize(spec):
    import importlib.util
    import sys

    module = importlib.util.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


_memlyze_bootstrap()
del _memlyze_bootstrap
