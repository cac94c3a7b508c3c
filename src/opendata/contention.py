"""Lost compare-and-swap races, tried again for as long as others make progress.

Every replace is a compare-and-swap, so a writer that loses a race loses it to another writer
whose write went through: however many run at once, one of them always gets on. A fixed count
of attempts is therefore the wrong bound (the last of N+1 concurrent publishers loses N times
in a row through no fault of anyone); a loser tries again, after a short random pause that
spreads the racers out, until a time budget long enough for any real crowd is spent.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

CONFLICT_PATIENCE = 600.0  # seconds of lost races before a writer reports the conflict


@dataclass(frozen=True)
class Patience:
    """How long, and with what pauses, a writer goes on after losing races."""

    seconds: float = CONFLICT_PATIENCE
    first_pause: float = 0.02
    longest_pause: float = 2.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    chance: random.Random = field(default_factory=random.Random)

    def pause(self, attempt: int) -> float:
        """Full jitter (anywhere from 0 to the exponential bound): racers that lost together
        do not come back together."""
        bound = min(self.longest_pause, self.first_pause * 2 ** min(attempt - 1, 30))
        return self.chance.uniform(0, bound)

    def attempts(self) -> Iterator[int]:
        """Attempt numbers: the first at once, each later one after a pause, until the budget
        is spent (the caller breaks out when an attempt succeeds)."""
        deadline = self.clock() + self.seconds
        attempt = 1
        yield attempt
        while self.clock() < deadline:
            self.sleep(self.pause(attempt))
            attempt += 1
            yield attempt


PATIENCE = Patience()
