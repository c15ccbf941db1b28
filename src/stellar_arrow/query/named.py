"""Named, pre-built filters of ``token_transfers`` rows (``filter=successful_payments``, ``"named": [...]``).

Each name stands for a :class:`~stellar_arrow.query.filter.TransferFilter` built once, AND-ed with the rest
of the request's filter:

* ``successful_payments``: ``transfer`` events produced by a ``payment``, ``path_payment_strict_receive`` or
  ``path_payment_strict_send`` operation. Every event of ``token_transfers`` other than a fee comes from a
  successful transaction (failed transactions only pay fees), so no status column is needed; mints and
  burns (payments from or to an asset's issuer) are not payments between holders and are left out;
* ``large_amounts``: events of any type whose exact ``amount_raw`` is at least the threshold
  (``filters.large_amount_threshold`` in the settings, raw units; default 10,000,000 = 1 XLM).

The process's set is built from its settings by :func:`~stellar_arrow.config.load_settings`
(:func:`configure_named_filters`); parsers take it from :func:`named_filters` unless given one.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from stellar_arrow.errors import RequestError

if TYPE_CHECKING:
    from stellar_arrow.query.filter import TransferFilter

__all__ = [
    "DEFAULT_LARGE_AMOUNT",
    "NAMED_FILTERS",
    "PAYMENT_OPERATIONS",
    "build_named_filters",
    "configure_named_filters",
    "named_filters",
    "parse_named_filter",
]

#: The default ``large_amounts`` threshold in raw units: 1 XLM.
DEFAULT_LARGE_AMOUNT: Final = 10_000_000
#: The operations whose ``transfer`` events are payments.
PAYMENT_OPERATIONS: Final = ("payment", "path_payment_strict_receive", "path_payment_strict_send")
#: Every named filter, with what it keeps.
NAMED_FILTERS: Final = MappingProxyType(
    {
        "successful_payments": "transfer events of payment and path payment operations",
        "large_amounts": "events whose amount_raw is at least filters.large_amount_threshold",
    }
)

_current: Mapping[str, TransferFilter] | None = None


def build_named_filters(large_amount_threshold: int = DEFAULT_LARGE_AMOUNT) -> Mapping[str, TransferFilter]:
    """The named filters with ``large_amounts`` at ``large_amount_threshold`` raw units."""
    from stellar_arrow.query.filter import TransferFilter

    return MappingProxyType(
        {
            "successful_payments": TransferFilter(
                event_types=("transfer",), operation_types=PAYMENT_OPERATIONS
            ),
            "large_amounts": TransferFilter(min_amount=large_amount_threshold),
        }
    )


def configure_named_filters(large_amount_threshold: int = DEFAULT_LARGE_AMOUNT) -> None:
    """Set this process's named filters (called with the settings' threshold when they are loaded)."""
    global _current
    _current = build_named_filters(large_amount_threshold)


def named_filters() -> Mapping[str, TransferFilter]:
    """This process's named filters (the default threshold until :func:`configure_named_filters`)."""
    global _current
    if _current is None:
        _current = build_named_filters()
    return _current


def parse_named_filter(value: object, field: str) -> str:
    """The name of a named filter (``successful_payments``, ``large_amounts``)."""
    if not isinstance(value, str) or value not in NAMED_FILTERS:
        shown = repr(value)[:60]
        msg = f"{field} {shown} is not a named filter; use {', '.join(NAMED_FILTERS)}"
        raise RequestError(msg, field=field)
    return value
