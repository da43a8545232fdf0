"""Interphone: push-to-talk desktop client and embedded server."""

__version__ = "0.2.0"
