"""Token buckets, clock passed in."""

from __future__ import annotations


class TokenBucket:
    """``rate`` tokens per second up to ``burst``; each request takes one."""

    __slots__ = ("_at", "_burst", "_rate", "_tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._at = now

    def take(self, now: float) -> bool:
        elapsed = now - self._at
        if elapsed > 0:
            self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
            self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class ByteBudget:
    """``rate`` bytes per second up to ``burst``: what a peer's reads may cost. Bytes
    already received are always spent (the balance may go below zero); :meth:`spend`
    says how long reading must then wait until the balance is back at zero."""

    __slots__ = ("_at", "_balance", "_burst", "_rate")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._balance = float(burst)
        self._at = now

    def spend(self, amount: int, now: float) -> float:
        """Take ``amount`` bytes; the seconds reading must pause (0.0: none)."""
        elapsed = now - self._at
        if elapsed > 0:
            self._balance = min(self._burst, self._balance + elapsed * self._rate)
            self._at = now
        self._balance -= amount
        return 0.0 if self._balance >= 0 else -self._balance / self._rate
