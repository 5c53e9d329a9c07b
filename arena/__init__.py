"""Starling Arena: anonymous side-by-side model battles, votes in SQL, ratings and preference data."""

__version__ = "0.1.0"
