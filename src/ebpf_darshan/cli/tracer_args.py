"""Options and checks every recording verb (record, attach, daemon) shares."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace

from ..binding import BpfError
from ..layers import ALL_LAYERS
from ..names import PathFilter
from ..tracer import DEFAULT_DXT_BUFFER_MB, DEFAULT_DXT_MAX_SEGMENTS, DEFAULT_EVENT_BUFFER_MB, \
    DEFAULT_HEATMAP_PROCS, DEFAULT_MAX_RECORDS, Tracer, TracerOptions
from .errors import CliError

BTF_PATH = "/sys/kernel/btf/vmlinux"


def add_tracer_options(p: argparse.ArgumentParser,
                       event_buffer_mb: int = DEFAULT_EVENT_BUFFER_MB) -> None:
    p.add_argument("--include", action="append", default=[], metavar="PREFIX",
                   help="record paths under PREFIX even if excluded by default")
    p.add_argument("--exclude", action="append", default=[], metavar="PREFIX",
                   help="do not record paths under PREFIX")
    p.add_argument("--max-records", type=int, default=DEFAULT_MAX_RECORDS, metavar="N",
                   help="kernel record slots, one per (process, file), 1.7 KiB each, "
                   f"allocated up front (default {DEFAULT_MAX_RECORDS})")
    p.add_argument("--event-buffer-mb", type=int, default=event_buffer_mb, metavar="MB",
                   help=f"ring buffer for names and process events (default {event_buffer_mb})")


def add_layer_options(p: argparse.ArgumentParser) -> None:
    for layer in ALL_LAYERS:
        p.add_argument(f"--no-{layer.name}", action="store_true",
                       help=f"turn off the {layer.description} (on by default; "
                       "costs microseconds per call, see docs/performance.md)")


def add_timeline_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dxt", action="store_true",
                   help="also trace every read and write (Darshan's DXT_POSIX module)")
    p.add_argument("--dxt-max-segments", type=int, default=DEFAULT_DXT_MAX_SEGMENTS, metavar="N",
                   help="keep at most N DXT segments, 56 bytes each "
                   f"(default {DEFAULT_DXT_MAX_SEGMENTS})")
    p.add_argument("--dxt-buffer-mb", type=int, default=DEFAULT_DXT_BUFFER_MB, metavar="MB",
                   help=f"ring buffer for DXT segments (default {DEFAULT_DXT_BUFFER_MB})")
    add_heatmap_option(p, "processes that get heatmaps, in order of creation",
                       DEFAULT_HEATMAP_PROCS)


def add_heatmap_option(p: argparse.ArgumentParser, what: str, default: int) -> None:
    p.add_argument("--heatmap-procs", type=int, default=default, metavar="N",
                   help=f"{what}, 27 KiB each per API (default {default})")


def path_filter_of(args: argparse.Namespace) -> PathFilter:
    path_filter = PathFilter()
    for prefix in args.exclude:
        path_filter.add_exclude(prefix)
    for prefix in args.include:
        path_filter.add_include(prefix)
    return path_filter


def check_system(verb: str) -> None:
    if os.geteuid() != 0:
        raise CliError(f"{verb} needs root (it loads BPF programs into the kernel); "
                       f"try: sudo ebpf-darshan {verb} ...")
    if not os.path.exists(BTF_PATH):
        raise CliError(f"this kernel has no BTF ({BTF_PATH} is missing); "
                       "ebpf-darshan needs CONFIG_DEBUG_INFO_BTF=y")


def _power_of_two_mb(mb: int, option: str) -> int:
    if mb < 1 or mb & (mb - 1):
        raise CliError(f"{option} must be a power of two (1, 2, 4, ...)")
    return mb


def _at_least_one(n: int, option: str) -> int:
    if n < 1:
        raise CliError(f"{option} must be at least 1")
    return n


def tracer_options(args: argparse.Namespace, base: TracerOptions | None = None) -> TracerOptions:
    return replace(base or TracerOptions(),
                   max_records=_at_least_one(args.max_records, "--max-records"),
                   event_buffer_mb=_power_of_two_mb(args.event_buffer_mb, "--event-buffer-mb"))


def timeline_options(args: argparse.Namespace, base: TracerOptions) -> TracerOptions:
    return replace(heatmap_options(args, base), dxt=args.dxt,
                   dxt_max_segments=_at_least_one(args.dxt_max_segments, "--dxt-max-segments"),
                   dxt_buffer_mb=_power_of_two_mb(args.dxt_buffer_mb, "--dxt-buffer-mb"))


def heatmap_options(args: argparse.Namespace, base: TracerOptions) -> TracerOptions:
    return replace(base, heatmap_procs=_at_least_one(args.heatmap_procs, "--heatmap-procs"))


def start_tracer(options: TracerOptions) -> Tracer:
    try:
        tracer = Tracer(options)
    except BpfError as e:
        if os.environ.get("EBPF_DARSHAN_DEBUG"):
            print(e.log, file=sys.stderr)
        raise CliError(f"cannot start BPF tracing: {e.describe()}")
    for part in tracer.off:
        print(f"ebpf-darshan: warning: {part.line()}", file=sys.stderr)
    return tracer
