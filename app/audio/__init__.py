"""Audio: codec, jitter buffer, device back-ends and the live pipeline.

Pure modules (no threads, no asyncio, no clock): constants, codec, jitter,
receiver, tones, resample, rate_adapt, levels, wavio. Device boundary:
backend (interface), clocked (real-time fake device), sd_backend
(sounddevice). The live pipeline that ties them together: pipeline.

PCM is always numpy float32, mono, 1-D, values in [-1, 1], 48 kHz.
"""
