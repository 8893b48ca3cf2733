"""``memlyze record [OPTIONS] COMMAND...``: profile the Python process a command starts.

The command is exec'd (no wrapper process stays behind), with a
``sitecustomize`` hook on a private PYTHONPATH entry and the options in the
environment; the first Python process it starts records into the capture
(see memlyze/_bootstrap). The capture file is created here, before the exec,
so a bad output path is reported before the program runs.
"""

# This module runs before every profiled program: it imports at the top only
# what every run needs, the rest where used (argparse, re and shlex cost
# about 10 ms; `memlyze run` parses its usual options without them).
import os
import sys

from . import shell_words
from ._common import CliError, UsageError, argument_type_error, os_error_text, positive_int

DESCRIPTION = "profile a command's Python process: memlyze record python app.py"


def rss_interval(text: str) -> float:
    import math

    from memlyze.engine_limits import MAX_RSS_INTERVAL

    try:
        value = float(text)
    except ValueError:
        raise argument_type_error(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0 or value > MAX_RSS_INTERVAL:
        raise argument_type_error(
            f"expected a number of seconds from 0 to {MAX_RSS_INTERVAL:g}, got {text!r}")
    return value


# The bounds of docs/format.md (CAPTURE_MIN_SAMPLE_RATE, CAPTURE_MAX_SAMPLE_INTERVAL):
# readers refuse captures outside them.
MIN_SAMPLE_RATE = 1e-9
MAX_SAMPLE_INTERVAL = 2**40


def sample_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argument_type_error(f"expected a fraction in [1e-9, 1], got {text!r}") from None
    if not (MIN_SAMPLE_RATE <= value <= 1):
        raise argument_type_error(f"expected a fraction in [1e-9, 1], got {text!r}")
    return value


def sample_interval(text: str) -> int:
    from memlyze.byte_sizes import parse_byte_size

    try:
        value = parse_byte_size(text)
    except ValueError as error:
        raise argument_type_error(str(error)) from None
    if value > MAX_SAMPLE_INTERVAL:
        raise argument_type_error(f"a sample interval is at most 1TiB, not {text!r}")
    return value


def aggregate_interval(text: str) -> float:
    import math

    try:
        value = float(text)
    except ValueError:
        raise argument_type_error(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or not 0.01 <= value <= 86400:
        raise argument_type_error(
            f"expected a number of seconds from 0.01 to 86400, got {text!r}")
    return value


def _ring_check(parse, text: str):
    """text itself once parse accepts it (the recorded process parses it
    again: a percentage is of its own cgroup), else an argparse error."""
    from memlyze.ring_options import RingOptionError

    try:
        parse(text)
    except RingOptionError as error:
        raise argument_type_error(str(error)) from None
    return text


def ring_window(text: str) -> str:
    from memlyze.ring_options import parse_ring

    return _ring_check(parse_ring, text)


def ring_dump_at(text: str) -> str:
    from memlyze.ring_options import parse_dump_at

    return _ring_check(parse_dump_at, text)


def ring_max_memory(text: str) -> str:
    from memlyze.ring_options import parse_max_memory

    return _ring_check(parse_max_memory, text)


def check_ring_options(options: "argparse.Namespace") -> None:
    """The ring options together: UsageError for combinations that cannot be."""
    if options.ring is None:
        if options.ring_dump_at is not None or options.ring_max_memory is not None:
            raise UsageError("--ring-dump-at and --ring-max-memory need --ring")
        return
    if options.aggregate:
        raise UsageError("--ring cannot be combined with --aggregate")
    if options.live is not None:
        raise UsageError("--ring cannot be combined with --live yet")
    if options.follow_fork or options.follow_subprocesses:
        raise UsageError("--ring cannot be combined with --follow-fork or "
                         "--follow-subprocesses yet")
    from memlyze.tracker import _check_ring

    try:
        _check_ring(options.ring, options.ring_dump_at, options.ring_max_memory, False, False)
    except ValueError as error:
        raise UsageError(str(error)) from None
def live_port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 0 <= int(text) <= 65535:
        raise argument_type_error(f"expected a port number from 0 to 65535, got {text!r}")
    return int(text)


def check_live_port_free(port: int | None) -> None:
    """A named port already taken on 127.0.0.1 is said before the program
    runs (the tracker, failing to bind it, would stop the program)."""
    if not port:
        return
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise CliError(f"cannot serve the live view on 127.0.0.1:{port}: "
                           f"{os_error_text(error)}") from None


def stack_depth(text: str) -> int:
    from memlyze.engine_limits import MAX_STACK_DEPTH_LIMIT

    return positive_int(text, MAX_STACK_DEPTH_LIMIT)


def tracker_options(options: "argparse.Namespace") -> dict:
    """The memlyze.Tracker keyword arguments of add_tracking_options' options."""
    return {
        "max_stack_depth": options.max_stack_depth,
        "python_allocators": options.python_allocators,
        "track_gc": options.track_gc,
        "rss_interval": options.rss_interval,
        "sample_rate": options.sample_rate,
        "sample_interval": options.sample_interval,
        "native": options.native,
    }


def _is_python_name(name: str) -> bool:
    """Whether name reads python[0-9.]*[dmu]? (python3, python3.12d, ...)."""
    if not name.startswith("python"):
        return False
    rest = name[len("python"):]
    if rest and rest[-1] in "dmu":
        rest = rest[:-1]
    return all(character in "0123456789." for character in rest)


def _is_python(program: str) -> bool:
    return _is_python_name(os.path.basename(program)) or (
        os.path.realpath(program) == os.path.realpath(sys.executable))


def parse_python_command(command: list[str]) -> tuple[set[str], str | None]:
    """For `python [options] target`: the option letters and the target's name.

    The name is the script's base name, the module of ``-m``, ``python-c``
    for ``-c``, ``stdin`` for ``-`` or None when there is no target.
    """
    flags: set[str] = set()
    index = 1
    while index < len(command):
        token = command[index]
        if token == "--":
            index += 1
            break
        if token == "-":
            return flags, "stdin"
        if token.startswith("--"):
            if token == "--check-hash-based-pycs":
                index += 1
            index += 1
            continue
        if token.startswith("-"):
            letters = token[1:]
            for position, letter in enumerate(letters):
                rest = letters[position + 1:]
                if letter == "c":
                    return flags, "python-c"
                if letter == "m":
                    module = rest or (command[index + 1] if index + 1 < len(command) else "")
                    return flags, module or None
                if letter in "WX":
                    if not rest:
                        index += 1
                    break
                flags.add(letter)
            index += 1
            continue
        break
    if index < len(command):
        return flags, os.path.basename(os.path.normpath(command[index])) or None
    return flags, None


def script_name(command: list[str]) -> str:
    """What to call a capture of this command: script, module or program name."""
    program = os.path.basename(command[0]) or "command"
    if not _is_python(command[0]):
        return program
    return parse_python_command(command)[1] or program


def hook_disabling_flags(command: list[str]) -> list[str]:
    """The options (-I, -E, -S) of a python command that make it ignore our
    sitecustomize."""
    if not _is_python(command[0]):
        return []
    return sorted(parse_python_command(command)[0] & set("IES"))


def warn_if_hook_disabled(command: list[str]) -> None:
    """python -I/-E/-S never import our sitecustomize: say so before exec."""
    disabling = hook_disabling_flags(command)
    if disabling:
        from ._common import warn

        flags = ", ".join(f"-{letter}" for letter in disabling)
        warn(f"python {flags} disables the start-up hook memlyze relies on: "
             "this Python process will not be profiled")


_NAME_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.+-")


def expand_output(output: str | None, name: str) -> str:
    pid = str(os.getpid())  # exec keeps the pid: it is the profiled process's
    if output is None:
        safe = "".join(character if character in _NAME_CHARACTERS else "_"
                       for character in name) or "command"
        return f"memlyze-{safe}.{pid}.mlyze"
    if not output:
        raise UsageError("record: the output file name is empty")
    return output.replace("{pid}", pid)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _tlv(tag: int, value: bytes) -> bytes:
    return _varint(tag) + _varint(len(value)) + value


def placeholder_header(command: list[str], program: str) -> bytes:
    """A capture's file header (docs/format.md) holding what is known before
    the exec: pid (exec keeps it), command, start time, and the Python
    version when the command runs this Python. Written into the capture
    until the tracker replaces it, so that a process killed during its
    start-up, before the tracker's own header, leaves a readable capture
    (truncated, no events) rather than an empty file."""
    import time
    import zlib

    fields = _tlv(1, _varint(os.getpid()))
    if os.path.realpath(program) == os.path.realpath(sys.executable):
        fields += _tlv(2, sys.version.split()[0].encode())
    fields += _tlv(3, " ".join(command).encode(errors="surrogateescape"))
    fields += _tlv(4, _varint(time.time_ns()))
    # version 1, flags 0, the fields' length, then their CRC-32 (not struct: ~0.3 ms to import)
    return (b"MLYZ" + (1).to_bytes(2, "little") + (0).to_bytes(2, "little")
            + len(fields).to_bytes(4, "little") + fields
            + zlib.crc32(fields).to_bytes(4, "little"))


def create_output(path: str, force: bool, content: bytes = b"") -> None:
    """Creates the capture file holding content (or replaces one with
    force), or fails. The content is written under a temporary name and
    then given the path, so that a kill at any moment leaves either no
    file or a whole placeholder, never an empty capture."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise CliError(f"cannot write capture file {path}: it is a directory")
    if not os.path.isdir(directory):
        if os.path.exists(directory):
            raise CliError(f"cannot write capture file {path}: {directory} is not a directory")
        raise CliError(f"cannot write capture file {path}: directory {directory} does not exist")
    if content and _publish_whole(path, force, content):
        return
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC
    flags |= os.O_TRUNC if force else os.O_EXCL
    try:
        descriptor = os.open(path, flags, 0o644)
    except FileExistsError:
        raise CliError(_exists_message(path)) from None
    except OSError as error:
        raise CliError(f"cannot write capture file {path}: {os_error_text(error)}") from None
    try:
        if content:
            os.write(descriptor, content)
    except OSError as error:
        os.close(descriptor)
        os.unlink(path)
        raise CliError(f"cannot write capture file {path}: {os_error_text(error)}") from None
    os.close(descriptor)


def _exists_message(path: str) -> str:
    from ._common import exists_message

    return exists_message(path)


def _create_beside(path: str) -> tuple[int, str]:
    """A new file of our own beside path (a fresh random name, created
    exclusively, links not followed): its descriptor and name. Not tempfile,
    whose imports (random, shutil) cost more than the rest of the command
    line does before the program starts."""
    directory = os.path.dirname(os.path.abspath(path))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(100):
        name = os.path.join(directory, f"{os.path.basename(path)}.{os.urandom(6).hex()}.tmp")
        try:
            return os.open(name, flags, 0o600), name
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


def _publish_whole(path: str, force: bool, content: bytes) -> bool:
    """Writes content to a new file beside path and links it there (never
    over an existing file without force). False when the directory cannot
    take the temporary file or links: the caller then writes in place."""
    if force and os.path.lexists(path) and not os.path.isfile(path):
        return False  # a device or a pipe named on purpose: write into it
    try:
        descriptor, temporary = _create_beside(path)
    except OSError:
        return False
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
        os.chmod(temporary, 0o644 & ~_umask())
        if force:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)
    except FileExistsError:
        raise CliError(_exists_message(path)) from None
    except OSError:
        return False
    finally:
        if os.path.lexists(temporary):
            os.unlink(temporary)
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def starts_python(program: str) -> bool:
    """False only for a program that is surely no Python: a native executable
    not named python. A script (#!) may run Python, and so may its children."""
    if _is_python(program):
        return True
    try:
        with open(program, "rb") as handle:
            start = handle.read(4)
    except OSError:
        return True
    return start != b"\x7fELF"


def announce(path: str, options: "argparse.Namespace", program: str, command: list[str]) -> None:
    """Says on stderr, before the exec, what memlyze cannot say after it: where
    a capture named by memlyze goes, and when no Python process will fill it."""
    from ._common import warn

    quoted = shell_words.quote(path)
    if not starts_python(program):
        warn(f"{command[0]} is not a Python interpreter: {path} stays without events unless it "
             "starts a Python process")
    elif options.output is None:
        sys.stderr.write(f"memlyze: writing the capture to {quoted} "
                         f"(then: memlyze summary {quoted})\n")


def find_program(program: str, env: dict) -> str:
    """The path exec will run, or a CliError."""
    if os.sep in program:
        if not os.path.exists(program):
            raise CliError(f"{program}: no such file", status=127)
        if os.path.isdir(program) or not os.access(program, os.X_OK):
            raise CliError(f"{program}: not an executable program", status=126)
        return program
    import shutil  # here: `memlyze run` names its interpreter by path

    found = shutil.which(program, path=env.get("PATH", os.defpath))
    if found is None:
        raise CliError(f"{program}: command not found", status=127)
    return found


def check_pprof_options(options: "argparse.Namespace") -> str | None:
    """The absolute --pprof-dir, None without it, or a CliError."""
    if options.pprof_keep is not None and options.pprof_dir is None:
        raise UsageError("--pprof-keep needs --pprof-dir")
    if options.pprof_dir is None:
        return None
    if not options.aggregate:
        raise UsageError("--pprof-dir needs --aggregate (the profiles are its intervals)")
    directory = os.path.abspath(options.pprof_dir)
    if not os.path.isdir(directory):
        reason = "not a directory" if os.path.exists(directory) else "no such directory"
        raise CliError(f"cannot write pprof profiles into {options.pprof_dir}: {reason}")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise CliError(f"cannot write pprof profiles into {options.pprof_dir}: permission denied")
    return directory


def prepare_recording(command: list[str], options: "argparse.Namespace", *,
                      name: str | None = None) -> tuple[str, str, dict]:
    """Checks the options, creates the capture and says where it goes.
    Returns the program's path, the capture's and the recording's config
    (record_environment.make_config)."""
    from memlyze._bootstrap import record_environment

    pprof_dir = check_pprof_options(options)
    check_ring_options(options)
    program = find_program(command[0], dict(os.environ))
    path = expand_output(options.output, name or script_name(command))
    check_live_port_free(options.live)
    # A Python that ignores the hook (-I, -E, -S) leaves the file empty,
    # and reports then say no Python process recorded into it.
    placeholder = b"" if hook_disabling_flags(command) else placeholder_header(command, program)
    create_output(path, options.force, placeholder)
    warn_if_hook_disabled(command)
    announce(path, options, program, command)
    config = record_environment.make_config(
        os.environ,
        path,
        shell_words.join(command),
        placeholder=placeholder,
        max_stack_depth=options.max_stack_depth,
        python_allocators=options.python_allocators,
        track_gc=options.track_gc,
        rss_interval=options.rss_interval,
        sample_rate=options.sample_rate,
        sample_interval=options.sample_interval,
        native=options.native,
        follow_fork=options.follow_fork or options.follow_subprocesses,
        follow_subprocesses=options.follow_subprocesses,
        aggregate=options.aggregate,
        aggregate_interval=options.aggregate_interval,
        pprof_dir=pprof_dir,
        pprof_keep=options.pprof_keep or 0,
        include_patterns=options.include,
        exclude_patterns=options.exclude,
        ring=options.ring,
        ring_dump_at=options.ring_dump_at,
        ring_max_memory=options.ring_max_memory,
        live_port=options.live,
    )
    return program, path, config


def exec_recording(command: list[str], options: "argparse.Namespace", *, name: str | None = None):
    """Creates the capture, sets up the hook and execs the command. Never returns."""
    from memlyze._bootstrap import record_environment

    program, path, config = prepare_recording(command, options, name=name)
    env = record_environment.hook_environment(os.environ, config)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    try:
        os.execve(program, command, env)
    except OSError as error:
        try:
            os.unlink(path)
        except OSError:
            pass
        raise CliError(f"cannot run {command[0]}: {os_error_text(error)}", status=126) from None


def record_here(command: list[str], options: "argparse.Namespace", *, name: str | None = None):
    """Creates the capture and starts recording this process as the hook
    would have in the exec'd command's Python (`memlyze run` in-process)."""
    from memlyze._bootstrap import record_environment

    try:
        import memlyze.tracker  # noqa: F401
    except ImportError as error:
        raise CliError(f"this Python ({sys.executable}, {sys.version.split()[0]}) cannot load "
                       f"memlyze's extension: {error}") from None
    _, _, config = prepare_recording(command, options, name=name)
    error = record_environment.activate(config)
    if error is not None:
        raise CliError(error)


def main(argv: list[str]) -> int:
    from .record_options import build_parser, split_options

    parser = build_parser()
    option_argv, command = split_options(parser, argv)
    options = parser.parse_args(option_argv)
    if not command:
        raise UsageError("record: no command given (usage: memlyze record [OPTIONS] COMMAND [ARGS...])")
    exec_recording(command, options)
    return 0  # not reached
