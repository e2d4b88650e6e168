"""Token buckets (per subscription, reads and writes) counted on the monotonic clock."""

import math
import threading
import time


def parse_spec(text):
    """'BURST:PER_SECOND' -> (burst, rate)."""
    burst, _, rate = str(text).partition(":")
    burst, rate = float(burst), float(rate or 0)
    if burst < 1 or rate < 0:
        raise ValueError(f"bad throttle spec {text!r}: want BURST:PER_SECOND with BURST >= 1")
    return burst, rate


class Bucket:
    def __init__(self, burst, rate):
        self.burst = burst
        self.rate = rate
        self.tokens = burst
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def _refill(self):
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def take(self):
        """Return (allowed, remaining, retry_after_seconds)."""
        with self.lock:
            self._refill()
            if self.tokens >= 1:
                self.tokens -= 1
                return True, int(self.tokens), 0
            wait = math.inf if self.rate == 0 else (1 - self.tokens) / self.rate
            return False, 0, max(1, math.ceil(wait)) if wait != math.inf else 3600

    def remaining(self):
        with self.lock:
            self._refill()
            return int(self.tokens)


class Throttle:
    def __init__(self, reads="12000:1000", writes="1200:100"):
        self.specs = {"reads": parse_spec(reads), "writes": parse_spec(writes)}
        self.buckets = {}
        self.lock = threading.Lock()

    def configure(self, kind, text):
        with self.lock:
            self.specs[kind] = parse_spec(text)
            self.buckets = {k: v for k, v in self.buckets.items() if k[1] != kind}

    def bucket(self, subscription, kind):
        key = (subscription.lower(), kind)
        with self.lock:
            if key not in self.buckets:
                self.buckets[key] = Bucket(*self.specs[kind])
            return self.buckets[key]
