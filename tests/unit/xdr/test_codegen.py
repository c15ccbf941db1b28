"""The generated decoder is reproducible from the schema, and its names are stellar-sdk's."""

from __future__ import annotations

import inspect

import pytest
from stellar_sdk import xdr as sdk_xdr

from stellar_arrow.xdr.definitions import load_schema, snake_case
from tools.xdrgen import policy
from tools.xdrgen.generate import XDR_DIR, generate


def test_generated_modules_match_a_fresh_generation() -> None:
    for name, text in generate().items():
        committed = (XDR_DIR / name).read_text()
        assert committed == text, f"{name} is stale: run `python -m tools.xdrgen`"


def test_schema_has_every_definition_kind() -> None:
    kinds = {d.kind for d in load_schema().definitions.values()}
    assert kinds == {"struct", "union", "enum", "typedef", "const"}


@pytest.mark.parametrize("kind", ["struct", "union"])
def test_attribute_names_are_stellar_sdks(kind: str) -> None:
    """Field and arm names follow stellar-sdk's constructor parameters, type by type."""
    checked = 0
    for d in load_schema().definitions.values():
        if d.kind != kind:
            continue
        cls = getattr(sdk_xdr, d.name, None)
        if cls is None:  # a few HashIDPreimage arms are anonymous in stellar-sdk
            continue
        params = list(inspect.signature(cls.__init__).parameters)[1:]
        if kind == "struct":
            mine = [snake_case(f.name) for f in d.fields]
        else:
            mine = [snake_case(d.discriminant_name)] + [snake_case(a.name) for a in d.arms if a.name]
        assert params == mine, d.name
        checked += 1
    assert checked > 100


def test_snake_case_rules() -> None:
    assert snake_case("ledgerSeq") == "ledger_seq"
    assert snake_case("AccountID") == "account_id"
    assert snake_case("from") == "from_"
    assert snake_case("txSetResultHash") == "tx_set_result_hash"


def test_profile_types_are_always_called() -> None:
    """A profile swaps ``d_<Type>``: the types it skips must never be decoded in place."""
    from stellar_arrow.xdr import _decoders
    from stellar_arrow.xdr.profile import TABLES_PROFILE

    assert TABLES_PROFILE <= policy.CALLED_TYPES
    assert not policy.CALLED_TYPES & _decoders._INLINED


def test_nonzero_padding_is_rejected() -> None:
    from stellar_arrow.errors import XdrDecodeError
    from stellar_arrow.xdr import decode, model

    symbol = b"\x00\x00\x00\x0f" + b"\x00\x00\x00\x03" + b"abc"
    assert decode("SCVal", symbol + b"\x00") == model.SCVal((15, b"abc"))
    with pytest.raises(XdrDecodeError, match="SCVal"):
        decode("SCVal", symbol + b"\x01")


def test_interned_values_are_shared_equal_and_bounded(corpus_ledgers: list[tuple[str, bytes]]) -> None:
    """Repeated values of interned unions are one object; the tables stay bounded."""
    from stellar_arrow.xdr import _decoders, decode_ledger_close_meta

    lcm = next(b for n, b in corpus_ledgers if "63092982" in n)
    first = decode_ledger_close_meta(lcm).v2.tx_set.value.phases[0].value[0].value.txs
    again = decode_ledger_close_meta(lcm).v2.tx_set.value.phases[0].value[0].value.txs
    a, b = first[0].value.tx.source_account, again[0].value.tx.source_account
    assert a == b and a is b
    tables = [t for name, t in vars(_decoders).items() if name.startswith("_I_")]
    assert tables and all(len(t) <= policy.INTERN_MAX for t in tables)
