"""The vote log as training data: ``python -m arena export`` (see :mod:`arena.export.run`)."""

from arena.export.run import run_export
from arena.export.source import ExportFilters
from arena.export.summary import ExportSummary

__all__ = ["ExportFilters", "ExportSummary", "run_export"]
