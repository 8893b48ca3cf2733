"""memlyze's start-up hook; see memlyze/_bootstrap/__init__.py.

This file is imported as the top-level module ``sitecustomize`` by any Python
process whose PYTHONPATH holds this folder. It must stay cheap and must not
leave traces: it removes its folder from sys.path, takes its environment
variable out of os.environ (so subprocesses are not tracked) and restores
PYTHONPATH, before doing anything else.
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
    tracker_error = None
    if raw is not None:
        config = None
        try:
            import json

            config = json.loads(raw)
            if not isinstance(config, dict):
                raise ValueError("not a JSON object")
        except ValueError as error:
            tracker_error = f"bad MEMLYZE_RECORD environment variable: {error}"
        if config is not None:
            original = config.get("pythonpath")
            if original is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = original
            # Import memlyze from the installation that launched us, even if
            # this interpreter's own sys.path has another one or none.
            package_root = os.path.dirname(os.path.dirname(here))
            sys.path.insert(0, package_root)
            try:
                from memlyze._bootstrap import record_environment
            except Exception as error:  # ImportError, or a broken install
                tracker_error = (
                    f"this Python ({sys.executable}, {sys.version.split()[0]}) cannot load "
                    f"memlyze from {package_root}: {error}"
                )
            finally:
                try:
                    sys.path.remove(package_root)
                except ValueError:
                    pass
            if tracker_error is None:
                # What chaining needs is imported before tracking starts, so
                # that memlyze's own start-up does not show in the capture.
                import importlib.machinery  # noqa: F401
                import importlib.util  # noqa: F401

                tracker_error = record_environment.activate(config)
    if tracker_error is not None:
        try:
            sys.stderr.write(f"memlyze: error: {tracker_error}\n")
            sys.stderr.flush()
        finally:
            os._exit(1)
    _chain_to_original_sitecustomize(here)


def _chain_to_original_sitecustomize(here):
    """Runs the sitecustomize that our folder shadowed, if there is one."""
    import importlib.machinery
    import importlib.util
    import os
    import sys

    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", sys.path)
    if spec is None or spec.loader is None:
        return
    origin = spec.origin or ""
    if os.path.dirname(os.path.abspath(origin)) == here:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


_memlyze_bootstrap()
del _memlyze_bootstrap
