"""Headless audio over a client session: bots, the mix clock and the paced talker.

Used by ``interphone-cli`` and the loopback demo; the GUI uses ``app.audio``'s
live pipeline instead. This package ties ``app.client`` (the session) to
``app.audio`` (codec, talker streams), so ``app.client`` itself needs no audio.
"""
