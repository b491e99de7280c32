"""Pure-Python reader and writer of Darshan log files (format 3.41, reads back to 3.00).

No BPF here: this package only knows the file format, so it can be used and
tested anywhere.
"""

from . import modules
from .log import DxtRecord, HeatmapRecord, Job, Log, LustreComponent, LustreRecord, ModuleRegion
from .reader import LogFormatError, decode_log, read_log
from .record_hash import record_id
from .text import format_log
from .writer import encode_log, write_log

__all__ = [
    "DxtRecord", "HeatmapRecord", "Job", "Log", "LogFormatError", "LustreComponent",
    "LustreRecord", "ModuleRegion", "decode_log", "encode_log", "format_log", "modules",
    "read_log", "record_id", "write_log",
]
