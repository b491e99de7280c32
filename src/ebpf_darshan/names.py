"""Record names as Darshan makes them, and Darshan's path exclusions."""

from __future__ import annotations

from dataclasses import dataclass, field

# Darshan's default excluded prefixes (plus /lib64, which Darshan's list
# predates), and the one prefix it re-includes.
DEFAULT_EXCLUDES = ("/etc/", "/dev/", "/usr/", "/bin/", "/boot/", "/lib/", "/lib64/",
                    "/opt/", "/sbin/", "/sys/", "/proc/", "/var/")
DEFAULT_INCLUDES = ("/var/opt/cray/dws/mounts/",)


def clean_path(path: str) -> str:
    """Squash '//' and '/./' the way Darshan does; nothing else ('..' and
    symlinks stay as the application wrote them)."""
    while "//" in path:
        path = path.replace("//", "/")
    while "/./" in path:
        path = path.replace("/./", "/")
    return path


def join_walk(walk: bytes) -> str:
    """A directory walked leaf first, NUL-separated components, as a path."""
    parts = [p.decode(errors="surrogateescape") for p in walk.split(b"\0") if p]
    return "/" + "/".join(reversed(parts))


def record_name(path: bytes, base_walk: bytes) -> str:
    """The record name for a path as given, relative to the walked base."""
    text = path.decode(errors="surrogateescape")
    if not text.startswith("/"):
        text = join_walk(base_walk) + "/" + text
    return clean_path(text)


def printable(name: str) -> str:
    """Names must be valid UTF-8 in a log; undecodable bytes become U+FFFD."""
    return name.encode(errors="surrogateescape").decode(errors="replace")


def _as_dir_prefix(prefix: str) -> str:
    return prefix if prefix.endswith("/") else prefix + "/"


@dataclass
class PathFilter:
    """Darshan's prefix exclusions; an include prefix always wins."""

    excludes: list[str] = field(default_factory=lambda: list(DEFAULT_EXCLUDES))
    includes: list[str] = field(default_factory=lambda: list(DEFAULT_INCLUDES))

    def add_exclude(self, prefix: str) -> None:
        self.excludes.append(_as_dir_prefix(prefix))

    def add_include(self, prefix: str) -> None:
        self.includes.append(_as_dir_prefix(prefix))

    def excluded(self, name: str) -> bool:
        probe = name + "/"
        if any(probe.startswith(p) for p in self.includes):
            return False
        return any(probe.startswith(p) for p in self.excludes)
