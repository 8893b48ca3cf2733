"""``memlyze plot LOG -o mem.png``: memory over time from a memlyze.process
log (JSON lines): RSS and peak RSS in MiB, CPU% on a second axis."""

from __future__ import annotations

import json

from ._common import CliError, add_force_option, check_output_file, make_parser

DESCRIPTION = "draw memory over time from a memlyze.process log (PNG/SVG/PDF by -o's suffix)"


def build_parser():
    parser = make_parser("plot", DESCRIPTION)
    parser.add_argument("log", metavar="LOGFILE", help="a log of python -m memlyze.process")
    parser.add_argument("-o", "--output", default="memory.png", metavar="IMAGE",
                        help="image file to write (default: memory.png)")
    parser.add_argument("--title", help="chart title (default: the logged command)")
    add_force_option(parser)
    return parser


def read_log(path: str) -> tuple[dict, list[dict]]:
    """The header and the samples of a process log; CliError when unusable."""
    try:
        with open(path, encoding="utf-8") as stream:
            records = [json.loads(line) for line in stream if line.strip()]
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror or error}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CliError(f"{path} is not a memlyze.process log (bad JSON line: {error})") from None
    if not records or not isinstance(records[0], dict) or \
            records[0].get("format") != "memlyze-process":
        raise CliError(f"{path} is not a memlyze.process log (no header line)")
    samples = [record for record in records[1:]
               if isinstance(record, dict) and record.get("kind") == "sample"]
    if not samples:
        raise CliError(f"{path} has no samples")
    return records[0], samples


def main(argv: list[str]) -> int:
    options = build_parser().parse_args(argv)
    check_output_file(options.output, options.force, options.log)
    header, samples = read_log(options.log)
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        raise CliError("memlyze plot needs matplotlib (pip install matplotlib)") from None
    times = [sample["time"] for sample in samples]
    mebibyte = 1024 * 1024
    figure, memory_axis = pyplot.subplots(figsize=(10, 5))
    memory_axis.plot(times, [sample["rss"] / mebibyte for sample in samples], label="RSS")
    memory_axis.plot(times, [sample["rss_peak"] / mebibyte for sample in samples],
                     label="peak RSS", linestyle="--")
    memory_axis.set_xlabel("time (s)")
    memory_axis.set_ylabel("memory (MiB)")
    cpu_axis = memory_axis.twinx()
    cpu_axis.plot(times, [sample.get("cpu_percent") or 0 for sample in samples],
                  color="grey", alpha=0.5, label="CPU %")
    cpu_axis.set_ylabel("CPU %")
    # One legend for the lines of both axes: the CPU line is on the second.
    lines = memory_axis.get_lines() + cpu_axis.get_lines()
    command = header.get("command")
    title = options.title or (" ".join(command) if isinstance(command, list) else "process")
    memory_axis.set_title(f"{title} (pid {header.get('pid')})")
    memory_axis.legend(lines, [line.get_label() for line in lines], loc="upper left")
    figure.tight_layout()
    try:
        figure.savefig(options.output)
    except (OSError, ValueError) as error:
        raise CliError(f"cannot write {options.output}: {error}") from None
    finally:
        pyplot.close(figure)
    from memlyze.process import plural

    print(f"Wrote {options.output}: {plural(len(samples), 'sample')}, peak RSS "
          f"{max(sample['rss_peak'] for sample in samples) / mebibyte:.1f} MiB")
    return 0
