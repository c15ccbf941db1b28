"""The whole exception hierarchy of stellar-arrow.

Every error the pipeline raises on purpose derives from :class:`StellarArrowError`. Two marker
mixins tell retry logic what to do: :class:`TransientError` (try again later) and
:class:`TerminalError` (retrying cannot help). Context travels as attributes, and every message
names the ledger, object, field or request it is about.

::

    StellarArrowError
    ├── ConfigError                         (terminal) bad setting, names the key
    ├── XdrDecodeError                      (terminal) truncated / corrupt / unknown-arm XDR
    ├── SourceError
    │   ├── LedgerObjectError               (terminal) bad zstd, batch range mismatch, bad manifest
    │   ├── LedgerMissingError              (terminal in a bounded range) object absent
    │   ├── LedgerNotYetAvailableError      (transient) past the tip, poll again
    │   ├── StorageError                    (transient) I/O failure talking to a store
    │   └── RpcError                        JSON-RPC error reply or malformed reply
    │       ├── RpcTransientError           (transient) -32001, -32603, HTTP 503, transport
    │       └── RpcRequestError             (terminal) -32600/-32601/-32602, out of retention
    ├── ValidationError                     (terminal)
    │   ├── NetworkMismatchError            tx hashes or passphrase disagree with the network
    │   ├── HashChainError                  previous_ledger_hash does not link
    │   ├── LedgerHashMismatchError         ledger hash / txSetHash / txSetResultHash vs content
    │   └── LedgerGapError                  a ledger sequence is missing
    ├── EventDerivationError                (terminal) inconsistent meta, names tx hash and op index
    ├── ReconciliationError                 (terminal) events disagree with balance changes
    ├── SinkError                           (terminal) output cannot be written or validated
    │   └── LifecycleError                  a compaction/retention action cannot run safely; names the path
    ├── UpstreamError                       a Flight upstream refused a stream
    │   └── UpstreamUnavailableError        (transient) the upstream service cannot be reached
    ├── CircuitOpenError                    (transient) an upstream's circuit breaker is open
    ├── BusyError                           (transient) a concurrency limit (bulkhead) is full: HTTP 429
    ├── SupervisorError                     (transient) a pipeline service process did not start
    ├── RequestError                        (terminal) bad API/WebSocket request, names the field
    │   └── TicketError                     a Flight ticket or descriptor is malformed
    ├── AuthenticationError                 (terminal) no, malformed, unknown, revoked or expired credential
    └── AuthorizationError                  (terminal) the principal lacks the permission a call needs

Exit statuses
-------------

Every ``stellar-arrow`` command ends with one of these statuses (:class:`ExitStatus`); the command
line maps an error to its status with :func:`exit_status` and prints one line
``error: <ErrorClass>: <message>`` on stderr, never a traceback:

====  =============  =====================================================================================
code  name           meaning
====  =============  =====================================================================================
0     OK             done; for ``verify``/``validate``: every ledger/file checked out
1     DATA_FAILURE   the data is wrong: a decode, validation, reconciliation or sink error, a
                     ``verify`` mismatch, a ``validate`` problem, a missing ledger in a bounded range
2     USAGE          the command line or the settings are wrong (:class:`ConfigError`, bad flag values;
                     also click's own usage errors) — nothing was read or written
3     UNAVAILABLE    an upstream (store, RPC node, Flight service, child process) could not be reached
                     or did not answer in time (any :class:`TransientError`); trying again may work
130   INTERRUPTED    stopped by SIGINT (Ctrl-C) before finishing
====  =============  =====================================================================================
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "AuthenticationError",
    "AuthorizationError",
    "BusyError",
    "CircuitOpenError",
    "ConfigError",
    "EventDerivationError",
    "ExitStatus",
    "HashChainError",
    "LedgerGapError",
    "LedgerHashMismatchError",
    "LedgerMissingError",
    "LedgerNotYetAvailableError",
    "LedgerObjectError",
    "LifecycleError",
    "NetworkMismatchError",
    "ReconciliationError",
    "RequestError",
    "RpcError",
    "RpcRequestError",
    "RpcTransientError",
    "SinkError",
    "SourceError",
    "StellarArrowError",
    "StorageError",
    "SupervisorError",
    "TerminalError",
    "TicketError",
    "TransientError",
    "UpstreamError",
    "UpstreamUnavailableError",
    "ValidationError",
    "XdrDecodeError",
    "exit_status",
]


class StellarArrowError(Exception):
    """Root of every error raised on purpose by stellar-arrow."""

    def __init__(self, message: str, *, ledger_sequence: int | None = None) -> None:
        super().__init__(message)
        self.ledger_sequence = ledger_sequence

    def __reduce__(self) -> tuple[object, ...]:  # picklable across worker processes
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(
    cls: type[StellarArrowError], args: tuple[object, ...], state: dict[str, object]
) -> StellarArrowError:
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    err.__dict__.update(state)
    return err


class TransientError:
    """Marker: the operation may succeed if retried later.

    ``retry_after``: seconds the upstream asked to wait (HTTP ``Retry-After``), when it said.
    """

    retry_after: float | None = None


class TerminalError:
    """Marker: retrying cannot help; the input or configuration must change."""


class ConfigError(StellarArrowError, TerminalError):
    """A setting is missing or invalid; ``key`` names it."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class XdrDecodeError(StellarArrowError, TerminalError):
    """XDR bytes are truncated, corrupt or use an arm this decoder does not know."""

    def __init__(
        self,
        message: str,
        *,
        ledger_sequence: int | None = None,
        type_name: str | None = None,
        offset: int | None = None,
    ) -> None:
        super().__init__(message, ledger_sequence=ledger_sequence)
        self.type_name = type_name
        self.offset = offset


class SourceError(StellarArrowError):
    """Base for failures while fetching ledger bytes."""

    def __init__(
        self, message: str, *, ledger_sequence: int | None = None, object_key: str | None = None
    ) -> None:
        super().__init__(message, ledger_sequence=ledger_sequence)
        self.object_key = object_key


class LedgerObjectError(SourceError, TerminalError):
    """A data-lake object is unusable: bad zstd, wrong batch range, bad manifest."""


class LedgerMissingError(SourceError, TerminalError):
    """A ledger (or its object) is absent inside a bounded range."""


class LedgerNotYetAvailableError(SourceError, TransientError):
    """The ledger is past the source's tip; poll again later."""


class StorageError(SourceError, TransientError):
    """An I/O failure talking to a store (network, permissions, throttling)."""


class RpcError(SourceError):
    """A Stellar RPC call failed; ``code`` is the JSON-RPC error code or HTTP status."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        method: str | None = None,
        ledger_sequence: int | None = None,
    ) -> None:
        super().__init__(message, ledger_sequence=ledger_sequence)
        self.code = code
        self.method = method


class RpcTransientError(RpcError, TransientError):
    """A retryable RPC failure: time limit, unhealthy node, HTTP 503, transport error."""


class RpcRequestError(RpcError, TerminalError):
    """The RPC rejected the request (bad range, out of retention, unknown method) or replied malformed."""


class ValidationError(StellarArrowError, TerminalError):
    """Decoded ledgers fail a consistency check."""


class NetworkMismatchError(ValidationError):
    """Ledgers do not belong to the expected network."""


class HashChainError(ValidationError):
    """A ledger's previous_ledger_hash does not equal the hash of the ledger before it."""


class LedgerGapError(ValidationError):
    """A ledger sequence is missing between two delivered ledgers."""


class LedgerHashMismatchError(ValidationError):
    """A header hash (own hash, txSetHash, txSetResultHash) disagrees with the ledger's content."""


class EventDerivationError(StellarArrowError, TerminalError):
    """Transaction meta is inconsistent with the operation; names the tx hash and operation index."""

    def __init__(
        self,
        message: str,
        *,
        ledger_sequence: int | None = None,
        tx_hash: str | None = None,
        operation_index: int | None = None,
    ) -> None:
        super().__init__(message, ledger_sequence=ledger_sequence)
        self.tx_hash = tx_hash
        self.operation_index = operation_index


class ReconciliationError(StellarArrowError, TerminalError):
    """Token transfer events disagree with the ledger's own balance changes."""


class SinkError(StellarArrowError, TerminalError):
    """Output could not be written, committed or validated."""


class LifecycleError(SinkError):
    """A lifecycle action (compaction, archival, deletion) cannot run safely; ``path`` names the file.

    Raised before anything is changed: the data stays where it is.
    """

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class UpstreamError(StellarArrowError):
    """A Flight upstream (source or processor) refused a stream; ``endpoint`` names it."""

    def __init__(
        self, message: str, *, endpoint: str | None = None, ledger_sequence: int | None = None
    ) -> None:
        super().__init__(message, ledger_sequence=ledger_sequence)
        self.endpoint = endpoint


class UpstreamUnavailableError(UpstreamError, TransientError):
    """The upstream Flight service could not be reached within the reconnect budget."""


class CircuitOpenError(StellarArrowError, TransientError):
    """Calls to upstream ``name`` are refused for ``retry_after`` seconds after repeated failures."""

    def __init__(self, message: str, *, name: str, retry_after: float) -> None:
        super().__init__(message)
        self.name = name
        self.retry_after = retry_after


class BusyError(StellarArrowError, TransientError):
    """Bulkhead ``name`` is full (``capacity`` concurrent calls); try again after ``retry_after`` seconds.

    HTTP 429 with ``Retry-After``, Flight ``FlightUnavailableError`` ``{"code": "busy", ...}``.
    """

    def __init__(self, message: str, *, name: str, capacity: int, retry_after: float) -> None:
        super().__init__(message)
        self.name = name
        self.capacity = capacity
        self.retry_after = retry_after


class RequestError(StellarArrowError, TerminalError):
    """A REST or WebSocket request is malformed; ``field`` names the parameter (HTTP 400)."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class AuthenticationError(StellarArrowError, TerminalError):
    """A credential is missing, malformed, unknown, revoked or expired (HTTP 401, Flight UNAUTHENTICATED).

    ``reason`` is a short machine word (``missing``, ``malformed``, ``unknown_key``, ``revoked``,
    ``expired``, ``invalid_token``); the message never contains the credential itself.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class AuthorizationError(StellarArrowError, TerminalError):
    """An authenticated principal lacks ``permission`` (HTTP 403, Flight PERMISSION_DENIED)."""

    def __init__(self, message: str, *, permission: str, subject: str) -> None:
        super().__init__(message)
        self.permission = permission
        self.subject = subject


class TicketError(RequestError):
    """A Flight ticket or descriptor is malformed; ``field`` names the offending parameter."""


class SupervisorError(StellarArrowError, TransientError):
    """A pipeline service process could not be started or did not become ready in time."""


class ExitStatus(IntEnum):
    """The exit status of every ``stellar-arrow`` command (see the table in this module's docstring)."""

    OK = 0
    DATA_FAILURE = 1
    USAGE = 2
    UNAVAILABLE = 3
    INTERRUPTED = 130


def exit_status(exc: BaseException) -> ExitStatus:
    """The exit status a command ends with when ``exc`` stops it."""
    if isinstance(exc, KeyboardInterrupt):
        return ExitStatus.INTERRUPTED
    if isinstance(exc, ConfigError | RequestError | AuthenticationError | AuthorizationError):
        return ExitStatus.USAGE
    if isinstance(exc, TransientError):
        return ExitStatus.UNAVAILABLE
    return ExitStatus.DATA_FAILURE
