"""Dictionary-encoded string columns: integer codes into a short list of labels.

Pure numpy, so the ratings can take columns in this form without importing the
SQL readers that produce them (:mod:`arena.columnar`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Coded:
    """A string column as integer codes into a list of distinct labels."""

    codes: np.ndarray
    labels: list[str]

    def __len__(self) -> int:
        return len(self.codes)

    def decode(self) -> np.ndarray:
        return np.asarray(self.labels, dtype=object)[self.codes] if len(self.labels) else np.asarray([], dtype=object)

    def recode(self, index: dict[str, int]) -> np.ndarray:
        """Codes in another numbering (*index* maps label → code)."""
        lookup = np.array([index[label] for label in self.labels], dtype=np.int64)
        return lookup[self.codes] if len(self.codes) else np.zeros(0, dtype=np.int64)


def encode(values: Any) -> Coded:
    """Dictionary-encode a string column (numpy array, list, or :class:`Coded`)."""
    if isinstance(values, Coded):
        return values
    index: dict[str, int] = {}
    codes = np.fromiter((index.setdefault(value, len(index)) for value in values), dtype=np.int64, count=len(values))
    return Coded(codes, list(index))


__all__ = ["Coded", "encode"]
