"""Event filters applied to ``token_transfers`` batches with pyarrow compute.

Dimensions are AND-ed; values within a dimension are OR-ed. Amount bounds are inclusive and exact: they are
compared on ``amount_raw`` cast to ``decimal256(76, 0)`` (wide enough for any i128), never on floats.

* ``event_types``: any of ``transfer mint burn clawback fee``;
* ``assets``: ``native``, ``CODE`` (any issuer) or ``CODE:ISSUER``;
* ``accounts``: strkeys matched against ``from``, ``to`` and ``to_muxed``;
* ``min_amount`` / ``max_amount``: in the token's whole units (``Decimal("12.5")`` = 125000000 raw), or
  ``min_amount_raw`` / ``max_amount_raw`` in raw units.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from stellar_arrow.vocabulary import EVENT_TYPES

__all__ = ["EventFilter", "filter_batch", "filter_mask"]

_RAW: Final = pa.decimal256(76, 0)
_SCALE: Final = Decimal(10) ** 7
_MAPPING_KEYS: Final = frozenset({"event_types", "assets", "accounts", "min_amount", "max_amount"})


def _raw_bound(value: Decimal | int | str | None, *, upper: bool) -> int | None:
    """Whole-unit bound -> raw bound, rounded inwards so that comparisons stay exact."""
    if value is None:
        return None
    scaled = Decimal(value) * _SCALE
    if not scaled.is_finite():
        msg = f"filter amount bound must be finite, got {value!r}"
        raise ValueError(msg)
    integral = scaled.to_integral_value(rounding="ROUND_FLOOR" if upper else "ROUND_CEILING")
    return int(integral)


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events to keep (``None`` = no constraint on that dimension)."""

    event_types: frozenset[str] | None = None
    assets: tuple[str, ...] | None = None
    accounts: frozenset[str] | None = None
    min_amount_raw: int | None = None
    max_amount_raw: int | None = None

    def __post_init__(self) -> None:
        if self.event_types is not None:
            unknown = set(self.event_types) - set(EVENT_TYPES)
            if unknown:
                msg = f"unknown event type(s) {sorted(unknown)}; expected some of {list(EVENT_TYPES)}"
                raise ValueError(msg)
        for asset in self.assets or ():
            if not asset or asset.count(":") > 1:
                msg = f"asset filter {asset!r} must be native, CODE or CODE:ISSUER"
                raise ValueError(msg)

    @classmethod
    def build(
        cls,
        *,
        event_types: Iterable[str] | None = None,
        assets: Iterable[str] | None = None,
        accounts: Iterable[str] | None = None,
        min_amount: Decimal | int | str | None = None,
        max_amount: Decimal | int | str | None = None,
    ) -> EventFilter:
        """Normalise user input (whole-unit amounts) into a filter."""
        return cls(
            event_types=frozenset(event_types) if event_types else None,
            assets=tuple(assets) if assets else None,
            accounts=frozenset(accounts) if accounts else None,
            min_amount_raw=_raw_bound(min_amount, upper=False),
            max_amount_raw=_raw_bound(max_amount, upper=True),
        )

    @classmethod
    def from_mapping(cls, spec: Mapping[str, object]) -> EventFilter:
        """From a JSON-like mapping (Flight tickets, WebSocket subscriptions) keyed like :meth:`build`.

        List values may also be comma-separated strings; amounts are whole units as strings or numbers.
        """
        unknown = set(spec) - _MAPPING_KEYS
        if unknown:
            msg = f"unknown filter key(s) {sorted(unknown)}; expected some of {sorted(_MAPPING_KEYS)}"
            raise ValueError(msg)

        def values(key: str) -> list[str] | None:
            raw = spec.get(key)
            if raw is None:
                return None
            items = raw.split(",") if isinstance(raw, str) else raw
            if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
                msg = f"filter {key!r} must be a list of strings or a comma-separated string, got {raw!r}"
                raise ValueError(msg)
            return [i.strip() for i in items if i.strip()]

        def amount(key: str) -> str | None:
            raw = spec.get(key)
            if raw is None:
                return None
            if isinstance(raw, bool) or not isinstance(raw, str | int | float):
                msg = f"filter {key!r} must be a number or a decimal string, got {raw!r}"
                raise ValueError(msg)
            return str(raw)

        try:
            return cls.build(
                event_types=values("event_types"),
                assets=values("assets"),
                accounts=values("accounts"),
                min_amount=amount("min_amount"),
                max_amount=amount("max_amount"),
            )
        except InvalidOperation as exc:
            bounds = (spec.get("min_amount"), spec.get("max_amount"))
            msg = f"filter amount is not a decimal number: min/max = {bounds!r}"
            raise ValueError(msg) from exc

    @property
    def is_empty(self) -> bool:
        return (
            self.event_types is None
            and self.assets is None
            and self.accounts is None
            and self.min_amount_raw is None
            and self.max_amount_raw is None
        )


def _asset_mask(batch: pa.RecordBatch | pa.Table, assets: tuple[str, ...]) -> pa.ChunkedArray | pa.Array:
    code = batch.column("asset_code")
    issuer = batch.column("asset_issuer")
    mask = pa.array([False] * batch.num_rows, pa.bool_())
    for asset in assets:
        if asset.lower() == "native":
            term = pc.equal(batch.column("asset_type"), "native")
        elif ":" in asset:
            c, i = asset.split(":")
            term = pc.and_(pc.equal(code, c), pc.equal(issuer, i))
        else:
            term = pc.equal(code, asset)
        mask = pc.or_kleene(mask, pc.fill_null(term, False))
    return mask


def filter_mask(batch: pa.RecordBatch | pa.Table, f: EventFilter) -> pa.ChunkedArray | pa.Array:
    """Boolean mask (no nulls) of the rows ``f`` keeps."""
    mask = pa.array([True] * batch.num_rows, pa.bool_())
    if f.event_types is not None:
        mask = pc.and_(mask, pc.is_in(batch.column("event_type"), pa.array(sorted(f.event_types))))
    if f.assets is not None:
        mask = pc.and_(mask, _asset_mask(batch, f.assets))
    if f.accounts is not None:
        values = pa.array(sorted(f.accounts))
        term = pc.is_in(batch.column("from"), values)
        for name in ("to", "to_muxed"):
            term = pc.or_(term, pc.is_in(batch.column(name), values))
        mask = pc.and_(mask, term)
    if f.min_amount_raw is not None or f.max_amount_raw is not None:
        raw = batch.column("amount_raw").cast(_RAW)
        if f.min_amount_raw is not None:
            mask = pc.and_(mask, pc.greater_equal(raw, pa.scalar(Decimal(f.min_amount_raw), _RAW)))
        if f.max_amount_raw is not None:
            mask = pc.and_(mask, pc.less_equal(raw, pa.scalar(Decimal(f.max_amount_raw), _RAW)))
    return pc.fill_null(mask, False)


def filter_batch(batch: pa.RecordBatch, f: EventFilter | None) -> pa.RecordBatch:
    """The rows of ``batch`` that ``f`` keeps (all rows when ``f`` is ``None`` or empty)."""
    if f is None or f.is_empty:
        return batch
    return batch.filter(filter_mask(batch, f))
