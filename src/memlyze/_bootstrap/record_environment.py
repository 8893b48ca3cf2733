"""The environment contract between ``memlyze record`` and the profiled process.

Parent side (the CLI, before exec): :func:`make_environment` returns the
environment to exec with (:func:`make_config` the options alone, for a
``memlyze run --in-process`` that activates them itself). Child side (the ``sitecustomize`` hook, at
interpreter start-up): :func:`read_config` decodes the recording options and
:func:`activate` starts the tracker and arranges for it to stop when the
program's main code has ended.

Every recorded process and every ``memlyze record`` imports this module at
start-up, so at the top it imports nothing but ``os``: no json (which brings
re and enum, ~6 ms) and no typing (~3 ms).
"""

import os

ENV_VAR = "MEMLYZE_RECORD"
BOOTSTRAP_DIR = os.path.dirname(os.path.abspath(__file__))
# 2: the options as typed name=value fields (1 was JSON).
CONFIG_VERSION = 2

# The options a recording passes to the tracker, with their defaults.
TRACKER_OPTIONS = {
    "max_stack_depth": 128,
    "python_allocators": False,
    "track_gc": True,
    "rss_interval": 0.01,
    "sample_rate": 1.0,
    "sample_interval": None,
    "include_patterns": [],
    "exclude_patterns": [],
    "native": False,
    "follow_fork": False,
    "aggregate": False,
    "aggregate_interval": 60.0,
    "pprof_dir": None,
    "pprof_keep": 0,
    "follow_subprocesses": False,
    "ring": None,
    "ring_dump_at": None,
    "ring_max_memory": None,
    "live_port": None,
}


def make_config(environ, path: str, command: str, placeholder: bytes = b"",
                **options) -> dict:
    """The recording's options as the hook reads them (see make_environment),
    for ``environ`` (a mapping): what activate() takes."""
    unknown = set(options) - set(TRACKER_OPTIONS)
    if unknown:
        raise TypeError(f"unknown recording options: {', '.join(sorted(unknown))}")
    return {
        "version": CONFIG_VERSION,
        "path": os.path.abspath(path),
        "command": command,
        "pythonpath": environ.get("PYTHONPATH"),
        "placeholder": placeholder.hex(),
        **TRACKER_OPTIONS,
        **options,
    }


def hook_environment(environ, config: dict) -> dict:
    """``environ`` (a mapping) plus the hook that records as ``config`` says."""
    env = dict(environ)
    env[ENV_VAR] = write_config(config)
    existing = environ.get("PYTHONPATH")
    env["PYTHONPATH"] = BOOTSTRAP_DIR + (os.pathsep + existing if existing else "")
    return env


def make_environment(environ, path: str, command: str, placeholder: bytes = b"",
                     **options) -> dict:
    """The environment for the command: ``environ`` (a mapping) plus the hook.

    ``path`` is the capture file, already created by the caller, empty or
    holding only ``placeholder`` (a provisional file header): the first
    Python process that finds it so records into it.
    """
    return hook_environment(environ, make_config(environ, path, command, placeholder, **options))


# --- the encoding of the options --------------------------------------------
#
# Fields are NAME=VALUE, separated by ";". A value is one letter giving its
# type, then its text: N (None), T, F (booleans), I<decimal>, D<float repr>,
# S<text>, or L followed by ",<text>" per item (a list of strings). Text keeps
# printable ASCII except the three separators; any other character is
# "%" and six hex digits of its code point, so the variable is pure ASCII
# whatever the locale, and lone surrogates (undecodable file names) survive.

_ESCAPED = frozenset("%;,")


def _escape(text: str) -> str:
    if text.isascii() and text.isprintable() and not _ESCAPED.intersection(text):
        return text
    return "".join(
        character if " " <= character <= "~" and character not in _ESCAPED
        else f"%{ord(character):06x}"
        for character in text)


def _unescape(text: str) -> str:
    first, *escaped = text.split("%")
    parts = [first]
    for part in escaped:
        code = part[:6]
        if len(code) < 6 or not all(digit in "0123456789abcdef" for digit in code):
            raise ValueError(f"bad escape %{part[:6]!r}")
        parts.append(chr(int(code, 16)))
        parts.append(part[6:])
    return "".join(parts)


def _write_value(value) -> str:
    if value is None:
        return "N"
    if value is True or value is False:
        return "T" if value else "F"
    if isinstance(value, int):
        return f"I{int(value)}"
    if isinstance(value, float):
        return f"D{float(value)!r}"
    if isinstance(value, str):
        return "S" + _escape(value)
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return "L" + "".join("," + _escape(item) for item in value)
    raise TypeError(f"a recording option cannot be {type(value).__name__}: {value!r}")


def write_config(config: dict) -> str:
    """The text of ``config`` (str names; None, bool, int, float, str or
    list of str values) for the environment variable; read_config inverts it."""
    return ";".join(f"{name}={_write_value(value)}" for name, value in config.items())


def _read_value(text: str):
    kind, body = text[:1], text[1:]
    if kind == "S":
        return _unescape(body)
    if kind == "I":
        return int(body)
    if kind == "D":
        return float(body)
    if kind == "L" and (not body or body.startswith(",")):
        return [_unescape(item) for item in body.split(",")[1:]]
    if not body and kind in ("N", "T", "F"):
        return {"N": None, "T": True, "F": False}[kind]
    raise ValueError(f"bad value {text[:40]!r}")


def read_config(text: str) -> dict:
    """The options write_config encoded in ``text``; ValueError if it is not such text."""
    config = {}
    for field in text.split(";"):
        name, equals, value = field.partition("=")
        if not equals or not name.isidentifier():
            raise ValueError(f"expected NAME=VALUE, got {field[:40]!r}")
        config[name] = _read_value(value)
    return config


def activate(config: dict) -> str | None:
    """Starts tracking as ``config`` says. Returns None, or why it could not."""
    import atexit

    try:
        version = config.get("version")
        if version != CONFIG_VERSION:
            return f"MEMLYZE_RECORD has version {version!r}, this memlyze expects {CONFIG_VERSION}"
        path = config["path"]
        options = {name: config.get(name, default) for name, default in TRACKER_OPTIONS.items()}
        command = config.get("command") or ""
    except (AttributeError, KeyError, TypeError) as error:
        return f"bad MEMLYZE_RECORD environment variable: {error!r}"

    if is_descendant(config):
        # The live view is the top process's: its port is taken.
        return _activate_descendant(config, path, dict(options, live_port=None))

    # Only the first Python process records: `memlyze record` created the
    # capture file empty or with a placeholder header; anything else in it
    # was written by an earlier process (one that ignored PYTHONPATH, e.g.
    # python -E, cannot get here).
    if not _still_as_created(path, config.get("placeholder") or ""):
        return None

    from memlyze._bootstrap import subprocess_notes
    from memlyze._bootstrap.subprocess_following import Following
    from memlyze.tracker import Tracker

    notes_path = subprocess_notes.create()
    try:
        tracker = Tracker(path, force=True, command=command, **options)
        # The top process names, at its end, the Python subprocesses that
        # were not recorded (all of them without --follow-subprocesses).
        tracker._following = Following(
            follow=options["follow_subprocesses"], family_path=path,
            options=tracker.recording_options(), notes_path=notes_path, owns_notes=True)
        tracker.start()
    except (OSError, ValueError, TypeError, RuntimeError) as error:
        if notes_path:
            try:
                os.unlink(notes_path)
            except OSError:
                pass
        return f"cannot start tracking into {path}: {error}"
    # Registered now, before the program's own handlers, so it runs after
    # them: tracking ends when the program's main code (and its atexit
    # work) has ended, before the interpreter shuts down.
    atexit.register(_stop_at_exit, tracker)
    return None


def is_descendant(config: dict) -> bool:
    """Whether this process was started below a followed one (it records
    into <output>.<pid>): its options name a parent, or they follow
    subprocesses and the top process already wrote the capture (a Python
    started by a shell script that `memlyze record` ran)."""
    if config.get("parent_pid") is not None:
        return True
    return bool(config.get("follow_subprocesses")) and not _still_as_created(
        str(config.get("path") or ""), config.get("placeholder") or "")


def _activate_descendant(config: dict, family_path: str, options: dict) -> str | None:
    """In a Python process started below a followed one: records into
    ``<output>.<pid>``. Never stops the program: what fails is noted for the
    top process to report. Returns None."""
    import atexit
    import sys

    from memlyze._bootstrap import subprocess_notes
    from memlyze._bootstrap.subprocess_following import Following, child_capture_path
    from memlyze.tracker import Tracker

    notes = config.get("notes") or None
    command = " ".join(getattr(sys, "orig_argv", None) or sys.argv)
    try:
        path = child_capture_path(family_path)
    except OSError as error:
        subprocess_notes.append(notes, "cannot-record", f"{command} ({error})")
        return None
    try:
        tracker = Tracker(path, force=True, **options)
        tracker.parent_pid = config.get("parent_pid") or None
        tracker._following = Following(follow=True, family_path=family_path,
                                       options=tracker.recording_options(),
                                       notes_path=notes, owns_notes=False)
        tracker.start()
    except (OSError, ValueError, TypeError, RuntimeError) as error:
        subprocess_notes.append(notes, "cannot-record", f"{command} ({error})")
        try:
            os.unlink(path)
        except OSError:
            pass
        return None
    atexit.register(_stop_at_exit, tracker)
    return None


def _still_as_created(path: str, placeholder_hex: str) -> bool:
    """Whether the capture holds what `memlyze record` put there: nothing,
    or exactly its placeholder header (pid and start time make it unique)."""
    try:
        with open(path, "rb") as capture:
            content = capture.read(len(placeholder_hex) // 2 + 1)
    except OSError:
        return True  # let the tracker report why it cannot write there
    return not content or content.hex() == placeholder_hex


def _stop_at_exit(tracker) -> None:
    import sys

    try:
        tracker.stop()  # does nothing in a forked child
    except Exception as error:  # never change the program's exit status
        if getattr(error, "announced", False):
            return  # told on stderr when it happened, in one line
        try:
            sys.stderr.write(f"memlyze: error: could not complete {tracker.path}: {error}\n")
            sys.stderr.flush()
        except Exception:
            pass
