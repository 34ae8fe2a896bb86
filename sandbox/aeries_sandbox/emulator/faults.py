"""Seeded, rate-controlled fault injection for the Aeries emulator.

A fault configuration has per-request probabilities for the kinds in :data:`FAULT_KINDS`, an added
``latency`` (seconds, applied to every affected request), an RNG ``seed``, an optional ``max_faults``
cap (after that many injected faults every request goes through: "fails 3 times, then succeeds") and an
optional ``path_pattern`` (a regular expression searched, case-insensitively, in the request path
relative to ``{base}/api/v5/``; only matching requests are affected).

One ``random.Random(seed)`` guarded by a lock draws one number per affected request, so a given
sequence of requests sees the same faults on every run. When the probabilities add up to more than 1,
the kinds are tried in :data:`FAULT_KINDS` order (``429=1,500=1`` always gives 429).
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = ["FAULT_KINDS", "FaultConfig", "FaultInjector", "parse_fault_spec"]

#: Per-request fault kinds, in the order they are tried.
FAULT_KINDS = ("429", "500", "503", "drop", "truncate", "html")


def parse_fault_spec(spec: str | Mapping[str, Any] | None, kinds: tuple[str, ...] = FAULT_KINDS) -> dict[str, float]:
    """``"429=0.1,500=0.05,latency=0.01"`` (or the same as a dict) -> ``{"429": 0.1, ...}``.

    ``kinds`` are the fault kinds the server knows (the emulator's by default). Raises ValueError naming the
    bad item: unknown kind, a value that is not a number, a probability outside 0..1 or a negative latency.
    """
    all_keys = tuple(kinds) + ("latency",)
    if spec is None:
        return {}
    items: list[tuple[str, Any]]
    if isinstance(spec, str):
        items = []
        for part in spec.replace(";", ",").split(","):
            part = part.strip()
            if not part:
                continue
            if "=" not in part:
                raise ValueError(f"fault spec item {part!r} is not KIND=VALUE (kinds: {', '.join(all_keys)})")
            key, value = part.split("=", 1)
            items.append((key, value))
    elif isinstance(spec, Mapping):
        items = list(spec.items())
    else:
        raise ValueError(f"fault spec must be a string or a mapping, not {type(spec).__name__}")
    rates: dict[str, float] = {}
    for key, value in items:
        kind = str(key).strip().lower()
        if kind not in all_keys:
            raise ValueError(f"unknown fault kind {key!r}; known kinds: {', '.join(all_keys)}")
        try:
            number = float(str(value).strip())
        except ValueError:
            raise ValueError(f"fault {kind}: {value!r} is not a number") from None
        if number != number:  # NaN
            raise ValueError(f"fault {kind}: {value!r} is not a number")
        if kind == "latency":
            if number < 0:
                raise ValueError(f"latency must be 0 or more seconds, not {number}")
        elif not 0.0 <= number <= 1.0:
            raise ValueError(f"fault {kind}: probability {number} is not between 0 and 1")
        rates[kind] = number
    return rates


@dataclass
class FaultConfig:
    rates: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    max_faults: int | None = None
    path_pattern: str | None = None

    @classmethod
    def from_json(cls, body: Mapping[str, Any], kinds: tuple[str, ...] = FAULT_KINDS) -> FaultConfig:
        """The control endpoint's body: ``{"rates": {...} | "spec", "seed", "max_faults", "path_pattern"}``."""
        if not isinstance(body, Mapping):
            raise ValueError("the body must be a JSON object")
        unknown = set(body) - {"rates", "seed", "max_faults", "path_pattern"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}; expected rates, seed, max_faults, path_pattern")
        rates = parse_fault_spec(body.get("rates") or {}, kinds)
        seed = body.get("seed", 0)
        max_faults = body.get("max_faults")
        pattern = body.get("path_pattern")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError("seed must be an integer")
        if max_faults is not None and (isinstance(max_faults, bool) or not isinstance(max_faults, int) or max_faults < 0):
            raise ValueError("max_faults must be null or an integer >= 0")
        if pattern is not None:
            if not isinstance(pattern, str):
                raise ValueError("path_pattern must be a string (a regular expression)")
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"path_pattern is not a valid regular expression: {exc}") from None
        return cls(rates=rates, seed=seed, max_faults=max_faults, path_pattern=pattern or None)

    def to_json(self) -> dict[str, Any]:
        return {"rates": dict(self.rates), "seed": self.seed, "max_faults": self.max_faults,
                "path_pattern": self.path_pattern}


class FaultInjector:
    """Decides, per request, whether to inject a fault; thread-safe; counts what it injected."""

    def __init__(self, config: FaultConfig | None = None, kinds: tuple[str, ...] = FAULT_KINDS) -> None:
        self._lock = threading.Lock()
        self.kinds = tuple(kinds)
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self._config = config
            self._rng = random.Random(config.seed)
            self._pattern = re.compile(config.path_pattern, re.IGNORECASE) if config.path_pattern else None
            self._injected = 0  # since this configuration, for max_faults
            self._cumulative = []
            total = 0.0
            for kind in self.kinds:
                rate = config.rates.get(kind, 0.0)
                if rate > 0:
                    total += rate
                    self._cumulative.append((total, kind))

    def clear(self) -> None:
        self.configure(FaultConfig())

    @property
    def config(self) -> FaultConfig:
        return self._config

    def state(self) -> dict[str, Any]:
        with self._lock:
            remaining = None
            if self._config.max_faults is not None:
                remaining = max(0, self._config.max_faults - self._injected)
            return {**self._config.to_json(), "injected": self._injected, "remaining": remaining}

    def decide(self, path: str) -> tuple[str | None, float]:
        """``(fault kind or None, latency seconds)`` for a request to ``path`` (relative to the API root)."""
        config = self._config
        if not config.rates:
            return None, 0.0
        if self._pattern is not None and not self._pattern.search(path):
            return None, 0.0
        latency = config.rates.get("latency", 0.0)
        if not self._cumulative:
            return None, latency
        with self._lock:
            if config is not self._config:  # reconfigured meanwhile: use the new one next time
                return None, latency
            if config.max_faults is not None and self._injected >= config.max_faults:
                return None, latency
            draw = self._rng.random()
            for bound, kind in self._cumulative:
                if draw < bound:
                    self._injected += 1
                    return kind, latency
        return None, latency
