"""The compiled token-transfer rows (``ttp/_fast.pyx``) are the Python derivation's rows, bit for bit.

On every corpus ledger and every sample-lake object of a known network, with both decoders; under random
byte flips (same batch or same error type); with the extension absent (the Python derivation alone); and
when the extension declines a ledger (the Python derivation decides). The compiled rows must not decline
any real ledger.
"""

from __future__ import annotations

import bisect
import gzip
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from stellar_arrow.build import TableSet, TableSetOptions
from stellar_arrow.errors import XdrDecodeError
from stellar_arrow.ledger import resolve_network
from stellar_arrow.ledger.network import Network
from stellar_arrow.ledger.view import ledger_view
from stellar_arrow.source.files import read_ledger_file
from stellar_arrow.ttp import compiled as ttp_compiled
from stellar_arrow.ttp.processor import token_transfers_batch
from stellar_arrow.ttp.table import _amount_array
from stellar_arrow.ttp.verify import check_ledger
from stellar_arrow.xdr import decode_ledger_close_meta, gc_paused
from stellar_arrow.xdr.choice import compiled_available as decoder_built
from stellar_arrow.xdr.choice import decode_ledger_close_meta_compiled

REPO = Path(__file__).resolve().parents[3]
LAKES = REPO / "data" / "lakes"
NETWORKS = {name: resolve_network(name) for name in ("pubnet", "testnet", "standalone")}

pytestmark = pytest.mark.skipif(
    not (ttp_compiled.compiled_available() and decoder_built()),
    reason="extensions not built (scripts/setup)",
)


def _network(name: str) -> Network | None:
    """The network of a corpus file or lake folder (None: the synthetic apply-load ledgers, unknown)."""
    for prefix, network in (
        ("pubnet", "pubnet"),
        ("testnet", "testnet"),
        ("synthetic-standalone", "standalone"),
    ):
        if name.startswith(prefix):
            return NETWORKS[network]
    if name.startswith("standalone"):
        return NETWORKS["standalone"]
    return None


def _lake_ledgers() -> list[tuple[str, bytes]]:
    out = []
    for path in sorted(LAKES.rglob("*")):
        if path.is_file() and ".xdr.zst" in path.name:
            lake = path.relative_to(LAKES).parts[0]
            out += [(f"{lake}/{path.name}#{i}", lcm) for i, lcm in enumerate(read_ledger_file(path))]
    return out


def _equal(left: pa.RecordBatch, right: pa.RecordBatch) -> bool:
    return left.schema.equals(right.schema, check_metadata=True) and left.equals(right)


def _outcome(fn: Callable[[], pa.RecordBatch]) -> pa.RecordBatch | type[BaseException]:
    try:
        return fn()
    except Exception as exc:  # the type is what both paths must agree on
        return type(exc)


DECODERS: dict[str, Callable[..., Any]] = {
    "compiled": decode_ledger_close_meta_compiled,
    "python": decode_ledger_close_meta,
}


@pytest.fixture
def no_declines() -> Any:
    before = sum(ttp_compiled.declined().values())
    yield
    assert sum(ttp_compiled.declined().values()) == before, dict(ttp_compiled.declined())


@pytest.mark.parametrize("decoder", list(DECODERS))
def test_every_corpus_and_lake_ledger_is_identical(
    corpus_ledgers: list[tuple[str, bytes]], decoder: str, no_declines: None
) -> None:
    checked = rows = 0
    for name, raw in [*corpus_ledgers, *_lake_ledgers()]:
        network = _network(name)
        if network is None:
            continue
        with gc_paused():
            lcm = DECODERS[decoder](raw)
            python = token_transfers_batch(lcm, network)
            compiled = token_transfers_batch(lcm, network, compiled=True)
        assert _equal(compiled, python), name
        checked += 1
        rows += compiled.num_rows
    assert checked >= 38 + 58
    assert rows > 10_000


def test_the_corpus_exercises_every_kind_of_row(corpus_ledgers: list[tuple[str, bytes]]) -> None:
    """The equality above is not vacuous: every event type, muxed-info kind, refunds and i128 amounts."""
    batches = []
    for name, raw in corpus_ledgers:
        network = _network(name)
        if network is not None:
            with gc_paused():
                batches.append(
                    token_transfers_batch(decode_ledger_close_meta_compiled(raw), network, compiled=True)
                )
    table = pa.Table.from_batches(batches)
    assert set(table.column("event_type").to_pylist()) == {"transfer", "mint", "burn", "clawback", "fee"}
    assert {"id", "text", "hash"} <= set(table.column("to_muxed_memo_type").drop_null().to_pylist())
    assert table.column("to_muxed").null_count < table.num_rows
    amounts = [int(a) for a in table.column("amount_raw").to_pylist()]
    assert min(amounts) < 0  # a refund (amounts beyond int64: test_amounts_of_every_width)
    assert None in table.column("asset").to_pylist()  # a custom contract token
    assert set(table.column("operation_type").drop_null().to_pylist()) >= {
        "payment",
        "path_payment_strict_send",
        "path_payment_strict_receive",
        "manage_sell_offer",
        "manage_buy_offer",
        "create_account",
        "account_merge",
        "invoke_host_function",
        "create_claimable_balance",
    }


def _flip_targets(raw: bytes, network: Network) -> list[int]:
    """Offsets of the big-endian int64 encodings of the ledger's row amounts outside the envelopes (a flip
    there changes results, balances or events; in an envelope it only fails the network check)."""
    with gc_paused():
        lcm = decode_ledger_close_meta_compiled(raw)
        amounts = {int(a) for a in token_transfers_batch(lcm, network).column("amount_raw").to_pylist()}
        envelopes = [bytes(e.xdr) for e in ledger_view(lcm).envelopes]
        spans = sorted((i, i + len(x)) for x in envelopes if (i := raw.find(x)) >= 0)
    starts = [start for start, _ in spans]
    out = []
    for amount in amounts:
        if not -(1 << 63) <= amount < 1 << 63:
            continue
        encoded = amount.to_bytes(8, "big", signed=True)
        at = raw.find(encoded)
        while at != -1 and len(out) < 20_000:
            k = bisect.bisect_right(starts, at) - 1
            if k < 0 or not spans[k][0] <= at < spans[k][1]:
                out.append(at)
            at = raw.find(encoded, at + 1)
    return out


def test_random_byte_flips_give_the_same_rows_or_the_same_error(
    corpus_ledgers: list[tuple[str, bytes]],
) -> None:
    """300 ledgers with one bit flipped that still decode (100 anywhere, 200 next to the encoding of a row's
    amount outside the envelopes): the compiled rows equal the Python rows, or both raise the same type."""
    rng = random.Random(14)
    sources = [(n, b, net) for n, b in corpus_ledgers if (net := _network(n)) is not None]
    targeted = [(n, b, net, at) for n, b, net in sources if (at := _flip_targets(b, net))]
    tried = changed = 0
    while tried < 300:
        if tried < 100:
            name, raw, network = rng.choice(sources)
            position = rng.randrange(len(raw))
        else:
            name, raw, network, offsets = rng.choice(targeted)
            position = min(max(rng.choice(offsets) + rng.randrange(-8, 8), 0), len(raw) - 1)
        data = bytearray(raw)
        data[position] ^= 1 << rng.randrange(8)
        try:
            with gc_paused():
                lcm = decode_ledger_close_meta_compiled(bytes(data))
        except XdrDecodeError:
            continue
        tried += 1
        with gc_paused():
            python = _outcome(lambda lcm=lcm, net=network: token_transfers_batch(lcm, net))
            compiled = _outcome(lambda lcm=lcm, net=network: token_transfers_batch(lcm, net, compiled=True))
            if isinstance(python, pa.RecordBatch) and isinstance(compiled, pa.RecordBatch):
                assert _equal(compiled, python), (name, position)
                original = token_transfers_batch(decode_ledger_close_meta_compiled(raw), network)
                changed += not _equal(python, original)
            else:
                assert compiled == python, (name, position)
    assert changed >= 20  # flips that changed the rows, not only the network check


@pytest.mark.parametrize("negative", [False, True])
def test_amounts_of_every_width(negative: bool) -> None:
    """``amount_raw`` and the decimal ``amount`` from i128 rows: int64, beyond it, beyond decimal128(38)."""
    module = ttp_compiled.fast_module()
    assert module is not None
    edges = [0, 1, 9, (1 << 63) - 1, 1 << 63, 10**19, 10**38 - 1, 10**38, (1 << 127) - 1]
    amounts = [-a if negative else a for a in edges] + ([-(1 << 127)] if negative else [])
    batch = module.amount_rows(amounts)
    assert batch.column("amount_raw").to_pylist() == [str(a) for a in amounts]
    assert batch.column("amount").equals(_amount_array(amounts))
    assert batch.column("amount").null_count == (3 if negative else 2)


def test_a_declined_ledger_is_derived_by_the_python_code(monkeypatch: pytest.MonkeyPatch) -> None:
    class Declining:
        @staticmethod
        def ledger_batch(*_: object) -> pa.RecordBatch:
            raise ValueError("not this one")

    raw = gzip.decompress((REPO / "data" / "corpus" / "pubnet-0063092982.xdr.gz").read_bytes())
    network = NETWORKS["pubnet"]
    with gc_paused():
        lcm = decode_ledger_close_meta_compiled(raw)
        expected = token_transfers_batch(lcm, network)
        monkeypatch.setitem(ttp_compiled._state, "module", Declining)
        before = ttp_compiled.declined()["ValueError: not this one"]
        assert _equal(token_transfers_batch(lcm, network, compiled=True), expected)
    assert ttp_compiled.declined()["ValueError: not this one"] == before + 1


def test_tableset_uses_the_compiled_rows_and_reconciles(no_declines: None) -> None:
    """The compiled decoder's TableSet builds the compiled rows; reconciliation still passes."""
    raw = gzip.decompress((REPO / "data" / "corpus" / "pubnet-0063092982.xdr.gz").read_bytes())
    network = NETWORKS["pubnet"]
    options = TableSetOptions(("token_transfers",), network, decoder="compiled", verify_events=True)
    tables = TableSet(options)
    calls = []
    module = ttp_compiled.fast_module()
    assert module is not None

    class Counting:
        @staticmethod
        def ledger_batch(*args: Any) -> pa.RecordBatch:
            calls.append(1)
            batch: pa.RecordBatch = module.ledger_batch(*args)
            return batch

    ttp_compiled._state["module"] = Counting
    try:
        tables.add(raw)
    finally:
        ttp_compiled._state["module"] = module
    assert calls == [1]
    with gc_paused():
        lcm = decode_ledger_close_meta(raw)
        check_ledger(lcm, network)  # raises ReconciliationError on a mismatch
        assert _equal(tables.finish()["token_transfers"], token_transfers_batch(lcm, network))


def test_without_the_extension_the_python_derivation_runs(tmp_path: Path) -> None:
    """With ``ttp._fast`` unimportable (as when it is not built), ``compiled=True`` is the Python path."""
    script = tmp_path / "absent.py"
    script.write_text(
        "import gzip, sys\n"
        "sys.modules['stellar_arrow.ttp._fast'] = None  # import fails as for a missing .so\n"
        "from stellar_arrow.ledger import resolve_network\n"
        "from stellar_arrow.ttp import compiled\n"
        "from stellar_arrow.ttp.processor import token_transfers_batch\n"
        "from stellar_arrow.build import TableSet, TableSetOptions\n"
        "from stellar_arrow.xdr import decode_ledger_close_meta\n"
        f"raw = gzip.decompress(open({str(REPO / 'data/corpus/pubnet-0063092982.xdr.gz')!r}, 'rb').read())\n"
        "net = resolve_network('pubnet')\n"
        "assert not compiled.compiled_available()\n"
        "lcm = decode_ledger_close_meta(raw)\n"
        "a = token_transfers_batch(lcm, net, compiled=True)\n"
        "assert a.equals(token_transfers_batch(lcm, net)) and a.num_rows > 700\n"
        "t = TableSet(TableSetOptions(('token_transfers',), net, decoder='compiled'))\n"
        "t.add(raw)\n"
        "assert t.finish()['token_transfers'].equals(a)\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
