"""Interphone: push-to-talk desktop client and embedded server."""

__version__ = "0.1.0"
