"""Threads named in the capture by their ``threading`` names, without
importing ``threading``.

Importing threading when tracking starts would cost ~3 ms and change the
profiled program: its modules, and where its own objects land in pymalloc's
arenas (on json_dumps that alone turns ~8,000 extra page faults on, 4% of
its time). So if the program has imported threading, Thread is wrapped at
once; otherwise the wrap waits for the program's own import of it, through a
meta path finder that answers for no module and leaves after that import.
"""

import sys

MAIN_THREAD_NAME = "MainThread"


def current_thread_name() -> str:
    """The threading name of the calling thread. Without threading imported,
    the caller is taken for the main thread, as threading itself would on
    its import."""
    threading = sys.modules.get("threading")
    if threading is None:
        return MAIN_THREAD_NAME
    return threading.current_thread().name


def wrap_thread_class(threading, set_thread_name, is_tracking) -> None:
    """Makes every thread threading starts name itself, once per process.

    Wraps ``Thread._set_native_id``, which each new thread calls first thing
    in its own context and which returns before the thread's target runs:
    no profile hook, and no extra frame on the thread's stacks.
    """
    original = getattr(threading.Thread, "_set_native_id", None)
    if original is None or getattr(original, "_memlyze_names_thread", False):
        return

    def _set_native_id(self):
        original(self)
        if is_tracking():
            try:
                set_thread_name(str(self.name))
            except Exception:  # never disturb the thread
                pass

    _set_native_id._memlyze_names_thread = True
    _set_native_id._memlyze_original = original
    threading.Thread._set_native_id = _set_native_id


def unwrap_thread_class(threading) -> None:
    """Puts back the Thread._set_native_id that wrap_thread_class wrapped
    (memlyze detach leaves no hook behind)."""
    wrapped = threading.Thread.__dict__.get("_set_native_id")
    original = getattr(wrapped, "_memlyze_original", None)
    if original is not None:
        threading.Thread._set_native_id = original


class _WrapAfterExecution:
    """Stands in for threading's loader for one execution of the module, then
    puts the real loader back where the module and its spec record it."""

    def __init__(self, loader, after):
        self._loader = loader
        self._after = after

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        try:
            self._loader.exec_module(module)
        finally:
            module.__loader__ = self._loader
            if getattr(module, "__spec__", None) is not None:
                module.__spec__.loader = self._loader
        self._after(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class ThreadingImportWatch:
    """A sys.meta_path finder that finds nothing itself: when threading is
    imported, it leaves, lets the other finders find it, and has Thread
    wrapped right after the module has run."""

    def __init__(self, set_thread_name, is_tracking):
        self._set_thread_name = set_thread_name
        self._is_tracking = is_tracking

    def find_spec(self, name, path=None, target=None):
        if name != "threading":
            return None
        self.leave()
        spec = None
        for finder in list(sys.meta_path):
            find_spec = getattr(finder, "find_spec", None)
            spec = find_spec(name, path, target) if find_spec is not None else None
            if spec is not None:
                break
        if spec is None or not hasattr(spec.loader, "exec_module"):
            return spec  # an unusual import system: threads keep kernel names
        spec.loader = _WrapAfterExecution(spec.loader, self._wrap)
        return spec

    def _wrap(self, threading) -> None:
        wrap_thread_class(threading, self._set_thread_name, self._is_tracking)

    def leave(self) -> None:
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass


def name_threads(set_thread_name, is_tracking):
    """Names the calling thread, and arranges for threading's threads to name
    themselves. Returns the watch to ``leave()`` when tracking stops (None if
    threading was already imported)."""
    set_thread_name(current_thread_name())
    threading = sys.modules.get("threading")
    if threading is not None:
        wrap_thread_class(threading, set_thread_name, is_tracking)
        return None
    watch = ThreadingImportWatch(set_thread_name, is_tracking)
    sys.meta_path.insert(0, watch)
    return watch
