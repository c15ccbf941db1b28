"""Single filter values: canonical results for good input, a RequestError naming the field otherwise."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stellar_arrow.errors import RequestError
from stellar_arrow.query import (
    format_amount,
    format_time,
    parse_amount,
    parse_asset,
    parse_asset_code,
    parse_event_type,
    parse_ledger,
    parse_operation_type,
    parse_strkey,
    parse_time,
    parse_transaction_hash,
)
from stellar_arrow.xdr.strkey import (
    account_strkey,
    claimable_balance_strkey,
    contract_strkey,
    liquidity_pool_strkey,
    muxed_strkey,
)

ISSUER = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN"
CONTRACT = "CAS3J7GYLGXMF6TDJBBYYSE3HQ6BBSMLNUQ34T6TZMYMW2EVH34XOWMA"
SEED = "SBFGFF27Y64ZUGFAIG5AMJGQODZZKV2YQKAVUUN4HNE24XZXD2OEUVUP"
I128_MAX = (1 << 127) - 1

GOOD: list[tuple[Callable[[object, str], object], object, object]] = [
    (parse_event_type, "mint", "mint"),
    (parse_operation_type, "path_payment_strict_send", "path_payment_strict_send"),
    (parse_strkey, ISSUER, ISSUER),
    (parse_strkey, CONTRACT, CONTRACT),
    (parse_strkey, muxed_strkey(bytes(32), 7), muxed_strkey(bytes(32), 7)),
    (parse_strkey, liquidity_pool_strkey(bytes(32)), liquidity_pool_strkey(bytes(32))),
    (parse_strkey, claimable_balance_strkey(bytes(32)), claimable_balance_strkey(bytes(32))),
    (parse_asset, "native", "native"),
    (parse_asset, f"USDC:{ISSUER}", f"credit_alphanum4:USDC:{ISSUER}"),
    (parse_asset, f"credit_alphanum4:USDC:{ISSUER}", f"credit_alphanum4:USDC:{ISSUER}"),
    (parse_asset, f"yUSDC:{ISSUER}", f"credit_alphanum12:yUSDC:{ISSUER}"),
    (parse_asset, CONTRACT, CONTRACT),
    (parse_asset_code, "USDC", "USDC"),
    (parse_amount, "12.5", 125_000_000),
    (parse_amount, "0.0000001", 1),
    (parse_amount, "1.50000", 15_000_000),
    (parse_amount, 3, 30_000_000),
    (parse_amount, "0", 0),
    (parse_amount, "17014118346046923173168730371588.4105727", I128_MAX),
    (parse_ledger, 63092982, 63092982),
    (parse_ledger, "4294967295", 4294967295),
    (parse_time, "0", datetime(1970, 1, 1, tzinfo=UTC)),
    (parse_time, 1750000000, datetime.fromtimestamp(1750000000, tz=UTC)),
    (parse_time, "253402300799", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
    (parse_time, "2026-06-19T00:21:00Z", datetime(2026, 6, 19, 0, 21, tzinfo=UTC)),
    (parse_time, "2026-06-19T02:21:00+02:00", datetime(2026, 6, 19, 0, 21, tzinfo=UTC)),
    (parse_time, "2026-06-19", datetime(2026, 6, 19, tzinfo=UTC)),
    (parse_transaction_hash, "ab" * 32, "ab" * 32),
]


@pytest.mark.parametrize(("parse", "value", "expected"), GOOD)
def test_good_values_become_canonical(
    parse: Callable[[object, str], object], value: object, expected: object
) -> None:
    assert parse(value, "f") == expected


HOSTILE_TEXT: list[object] = [
    "",
    " ",
    "²",
    "١٢٣",
    "１２",
    "\x00",
    "a\nb",
    "x" * 10_000,
    None,
    True,
    1.5,
    [],
    {},
]
HOSTILE: list[tuple[Callable[[object, str], object], object]] = [
    *((p, v) for v in HOSTILE_TEXT for p in (parse_event_type, parse_strkey, parse_asset, parse_amount)),
    *((p, v) for v in HOSTILE_TEXT for p in (parse_ledger, parse_time, parse_transaction_hash)),
    (parse_event_type, "Mint"),
    (parse_event_type, "swap"),
    (parse_operation_type, "PAYMENT"),
    (parse_strkey, SEED),  # a secret seed is never an address
    (parse_strkey, ISSUER.lower()),
    (parse_strkey, ISSUER[:-1] + "A"),  # checksum
    (parse_strkey, "GAAAAAAAAAAAAAAAAAAA"),
    (parse_asset, "USDC"),  # a bare code is not an asset (use asset_codes)
    (parse_asset, "USDC:GNOTANISSUER"),
    (parse_asset, f"USDC:{CONTRACT}"),
    (parse_asset, f"USDC:{ISSUER}:x"),
    (parse_asset, f"credit_alphanum12:USDC:{ISSUER}"),
    (parse_asset, f"credit_alphanum4:yUSDC:{ISSUER}"),
    (parse_asset, f"THIRTEENCHARS:{ISSUER}"),
    (parse_asset, f"US-D:{ISSUER}"),
    (parse_asset, "Cnot-a-contract"),
    (parse_asset, ISSUER),  # an account is not an asset
    (parse_asset_code, "THIRTEENCHARS"),
    *((parse_amount, v) for v in ("1e999999", "1E5", "-1", "+1", "NaN", "Infinity", "0x10", "1_000")),
    *(
        (parse_amount, v)
        for v in ("1.", ".5", "1.00000001", "1,5", "170141183460469231731687303715884.105728")
    ),
    (parse_amount, -5),
    (parse_amount, 10**40),
    *(
        (parse_ledger, v)
        for v in (0, -1, "0", "-1", 2**32, "4294967296", "1.0", "1e3", "9223372036854775808")
    ),
    *((parse_time, v) for v in ("253402300800", "9223372036854775808", "-1", "1e9", "10000-01-01")),
    *((parse_time, v) for v in ("1969-12-31T23:59:59Z", "0001-01-01T00:00:00+01:00", "yesterday")),
    *((parse_time, v) for v in ("2026-13-01", "2026-06-19T25:00:00", "2026-06-19T00:00:00+99:00", -1)),
    (parse_transaction_hash, "AB" * 32),
    (parse_transaction_hash, "ab" * 31),
    (parse_transaction_hash, "zz" * 32),
]


@pytest.mark.parametrize(("parse", "value"), HOSTILE)
def test_hostile_values_name_the_field(parse: Callable[[object, str], object], value: object) -> None:
    with pytest.raises(RequestError) as info:
        parse(value, "filters.thing")
    assert info.value.field == "filters.thing"
    assert "filters.thing" in str(info.value)
    assert len(str(info.value)) < 400  # a hostile value is never echoed at length


@given(st.integers(min_value=0, max_value=I128_MAX))
def test_amount_text_round_trips_exactly(raw: int) -> None:
    assert parse_amount(format_amount(raw), "f") == raw


@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)))
def test_time_text_round_trips_exactly(moment: datetime) -> None:
    assert parse_time(format_time(moment), "f") == moment


def test_amount_errors_say_what_is_wrong() -> None:
    messages: dict[Any, str] = {"-1": "negative", "1.5e3": "plain decimal", 1.5: "floating-point"}
    for value, words in messages.items():
        with pytest.raises(RequestError, match=words):
            parse_amount(value, "min_amount")
    with pytest.raises(RequestError, match="largest token amount"):
        parse_amount("17014118346046923173168730371588.4105728", "min_amount")


def test_strkey_kinds_can_be_narrowed() -> None:
    assert parse_strkey(account_strkey(bytes(32)), "f", kinds="G")
    with pytest.raises(RequestError, match="right kind"):
        parse_strkey(contract_strkey(bytes(32)), "f", kinds="G")
