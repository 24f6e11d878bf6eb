"""A token bucket per provider: ``rate`` sends a second on average, bursts of up to ``burst``.

Providers publish their limits this way (WeCom's API, SMS gateways). The bucket is per
worker process: N workers of one channel send up to N × rate. Hand-written (20 lines)
rather than a dependency, so that tests drive it with their own clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

EPSILON = 1e-6


class TokenBucket:
    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"a token bucket needs rate > 0 and burst >= 1, got {rate} and {burst}")
        self.rate, self.burst = rate, burst
        self.clock, self.sleep = clock, sleep
        self.tokens = float(burst)
        self.last = clock()

    async def acquire(self) -> float:
        """Take one token, waiting for it if need be; returns the seconds waited."""
        waited = 0.0
        while True:
            now = self.clock()
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
            self.last = now
            if self.tokens >= 1 - EPSILON:  # float steps of the clock must not leave a sliver owed forever
                self.tokens = max(0.0, self.tokens - 1)
                return waited
            pause = (1 - self.tokens) / self.rate
            waited += pause
            await self.sleep(pause)  # waiting for a token to accrue: time is the condition
