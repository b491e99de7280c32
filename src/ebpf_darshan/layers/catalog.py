"""Every library layer, in the order their options are listed."""

from __future__ import annotations

from .base import LibraryLayer
from .hdf5 import Hdf5Layer
from .mpiio import MpiioLayer
from .stdio import StdioLayer

ALL_LAYERS: tuple[type[LibraryLayer], ...] = (StdioLayer, MpiioLayer, Hdf5Layer)
