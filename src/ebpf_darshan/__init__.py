"""ebpf-darshan: Darshan I/O characterization collected transparently with eBPF."""

__version__ = "0.1.0"
