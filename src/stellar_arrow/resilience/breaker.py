"""A circuit breaker per upstream (each RPC endpoint, each bucket, each Flight upstream), with pybreaker.

:class:`UpstreamBreaker` opens after ``failures`` consecutive *transient* failures (terminal errors are
the request's fault, not the upstream's, and do not count), refuses calls for ``reset_s`` seconds
with :class:`~stellar_arrow.errors.CircuitOpenError` (transient, ``retry_after`` = time left), then lets
trial calls through (half-open) and closes on the first success. Its state is the gauge
``circuit_breaker_state{name}`` (0 closed, 1 open, 2 half-open); transitions count in
``circuit_breaker_transitions_total{name,state}`` and are logged.

pybreaker's ``CircuitBreaker.call`` holds the breaker's lock for the whole guarded call, which would
serialise parallel downloads from one bucket; :class:`_ConcurrentBreaker` runs the call outside the
lock (state changes still take it).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pybreaker

from stellar_arrow.errors import CircuitOpenError
from stellar_arrow.observability.logs import get_logger
from stellar_arrow.observability.metrics import CIRCUIT_BREAKER_STATE, CIRCUIT_BREAKER_TRANSITIONS
from stellar_arrow.resilience.classify import is_transient

__all__ = ["STATE_VALUES", "BreakerSettings", "UpstreamBreaker", "breaker_for", "upstream_name"]

T = TypeVar("T")
log = get_logger(__name__)

STATE_VALUES = {pybreaker.STATE_CLOSED: 0, pybreaker.STATE_OPEN: 1, pybreaker.STATE_HALF_OPEN: 2}


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    """When an upstream's breaker opens (consecutive transient failures) and for how long it stays open."""

    failures: int = 5
    reset_s: float = 30.0


class _ConcurrentBreaker(pybreaker.CircuitBreaker):
    def call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self._lock:
            state = self.state
        return state.call(func, *args, **kwargs)


class _Exporter(pybreaker.CircuitBreakerListener):
    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        name = cb.name or "upstream"
        new = str(new_state.name)
        CIRCUIT_BREAKER_STATE.labels(name).set(STATE_VALUES.get(new, 0))
        CIRCUIT_BREAKER_TRANSITIONS.labels(name, new).inc()
        old = str(old_state.name) if old_state is not None else None
        log.warning("circuit breaker state change", breaker=name, old_state=old, new_state=new)


class UpstreamBreaker:
    """The breaker of one upstream, named for metrics and messages (:func:`upstream_name`)."""

    def __init__(self, name: str, *, failures: int = 5, reset_s: float = 30.0) -> None:
        self.name = name
        self.reset_s = reset_s
        self._breaker = _ConcurrentBreaker(
            fail_max=max(1, failures),
            reset_timeout=reset_s,
            exclude=[lambda exc: not is_transient(exc)],
            listeners=[_Exporter()],
            throw_new_error_on_trip=False,
            name=name,
        )
        self.last_failure: str | None = None
        CIRCUIT_BREAKER_STATE.labels(name).set(0)

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half-open``."""
        return str(self._breaker.current_state)

    def seconds_until_trial(self) -> float:
        """0 unless open; else the seconds until a trial call is let through."""
        if self.state != pybreaker.STATE_OPEN:
            return 0.0
        opened = self._breaker._state_storage.opened_at
        if opened is None:
            return 0.0
        elapsed = (datetime.now(UTC) - opened).total_seconds()
        return max(0.0, self.reset_s - elapsed)

    @property
    def is_open(self) -> bool:
        return self.seconds_until_trial() > 0

    def record_success(self) -> None:
        """Count a success of a call made outside :meth:`call` (e.g. a stream that delivered data)."""
        if self.state != pybreaker.STATE_CLOSED or self._breaker.fail_counter:
            with contextlib.suppress(CircuitOpenError):
                self.call(_succeed)

    def record_failure(self, exc: BaseException) -> None:
        """Count the failure ``exc`` of a call made outside :meth:`call` (if transient; not while open)."""

        def fail() -> None:
            raise exc

        try:
            self.call(fail)
        except CircuitOpenError:
            pass
        except BaseException as raised:
            if raised is not exc:
                raise

    def call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``func(*args, **kwargs)`` through the breaker; CircuitOpenError while it is open."""
        try:
            return self._breaker.call(func, *args, **kwargs)
        except pybreaker.CircuitBreakerError:
            wait = self.seconds_until_trial()
            last = f"; last failure: {self.last_failure}" if self.last_failure else ""
            msg = f"circuit breaker {self.name} is open for another {wait:.1f} s{last}"
            raise CircuitOpenError(msg, name=self.name, retry_after=wait) from None
        except BaseException as exc:
            if is_transient(exc):
                self.last_failure = f"{type(exc).__name__}: {exc}"
            raise


def _succeed() -> None:
    return None


def upstream_name(kind: str, uri: str) -> str:
    """The breaker (and metric label) name of an upstream: ``kind:scheme://host[:port]``.

    Only the scheme and the authority are kept (a bucket for object stores): no path, query or user
    information, so a key embedded in a URL never reaches a metric label or a log line.
    ``upstream_name("lake", "s3://bucket/v1/x")`` is ``lake:s3://bucket``;
    ``upstream_name("rpc", "https://user:pw@rpc.example.org/key/")`` is ``rpc:https://rpc.example.org``.
    """
    parts = urlsplit(uri)
    scheme = parts.scheme.lower() or "file"
    authority = parts.netloc.rsplit("@", 1)[-1].lower()
    return f"{kind}:{scheme}://{authority}"


_REGISTRY: dict[str, UpstreamBreaker] = {}
_REGISTRY_LOCK = threading.Lock()


def breaker_for(name: str, *, failures: int = 5, reset_s: float = 30.0) -> UpstreamBreaker:
    """The process-wide breaker of upstream ``name`` (created on first use with these settings)."""
    with _REGISTRY_LOCK:
        breaker = _REGISTRY.get(name)
        if breaker is None:
            breaker = _REGISTRY[name] = UpstreamBreaker(name, failures=failures, reset_s=reset_s)
        return breaker
