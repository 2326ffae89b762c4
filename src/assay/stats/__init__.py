"""Statistics engine: pure functions of sufficient statistics (see docs/stats.md)."""
