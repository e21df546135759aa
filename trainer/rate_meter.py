"""Training speed as the log shows it: samples per second over the last steps, and how much of the step time was
spent waiting for data."""

from __future__ import annotations


class RateMeter:
    """Samples per second over the last ~50 steps, and the share of step time spent waiting for data (near 0
    when the loaders keep up)."""

    def __init__(self, window: int = 50) -> None:
        self.window = window
        self.items: list[tuple[int, float]] = []
        self.waits: list[float] = []

    def add(self, samples: int, seconds: float) -> None:
        self.items.append((samples, seconds))
        del self.items[: -self.window]

    def add_wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        del self.waits[: -self.window]

    @property
    def data_wait(self) -> float:
        seconds = sum(s for _, s in self.items)
        return sum(self.waits[-len(self.items):]) / seconds if seconds > 0 else 0.0

    @property
    def value(self) -> float:
        seconds = sum(s for _, s in self.items)
        return sum(n for n, _ in self.items) / seconds if seconds > 0 else 0.0
