"""Array type aliases shared across vtwin (annotations only; numpy dtypes named once)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
"""float64 array (SI units unless the name says otherwise)."""
IntArray = NDArray[np.int64]
"""int64 array (indices, counts)."""
BoolArray = NDArray[np.bool_]
"""Boolean mask."""

__all__ = ["BoolArray", "FloatArray", "IntArray"]
