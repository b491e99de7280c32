"""Library layers (see base.py).  Each one is on by default and turned off
by `record --no-NAME`; a layer does nothing in processes that never map its
library."""

from __future__ import annotations

from .base import LayerRecords, LayerResult, LibraryLayer, Probe
from .hdf5 import Hdf5Layer
from .mpiio import MpiioLayer
from .stdio import StdioLayer

ALL_LAYERS: tuple[type[LibraryLayer], ...] = (StdioLayer, MpiioLayer, Hdf5Layer)

__all__ = ["ALL_LAYERS", "LayerRecords", "LayerResult", "LibraryLayer", "Probe"]
