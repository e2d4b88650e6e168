"""Local Azure emulator for hybrid runbook worker tests (not shipped in the collection)."""

__version__ = "0.1.0"
