"""Options and checks every recording verb (record, attach, daemon) shares."""

from __future__ import annotations

import argparse
from dataclasses import replace

from ..api import RecordOptions, path_filter
from ..layers.catalog import ALL_LAYERS
from ..names import PathFilter
from ..tracer import (
    DEFAULT_DXT_BUFFER_MB,
    DEFAULT_DXT_MAX_SEGMENTS,
    DEFAULT_EVENT_BUFFER_MB,
    DEFAULT_HEATMAP_PROCS,
    DEFAULT_MAX_RECORDS,
    TracerOptions,
)
from .errors import CliError


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
    return path_filter(RecordOptions(include=args.include, exclude=args.exclude))


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
