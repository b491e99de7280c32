"""Library layers (see base.py), listed in catalog.py.  Each one is on by
default and turned off by `record --no-NAME`; a layer does nothing in
processes that never map its library.

Nothing is imported here: base.py (what a layer is, what it gives the log)
belongs to the core, the layers themselves to the kernel side."""
