"""Rebuild the SEP-54 sample lakes in ``data/lakes/`` from the ledger corpus in ``data/corpus/``.

Reproducible: the same corpus gives byte-identical objects (fixed zstd level, content size written,
single-threaded compressor, sorted-key manifests). Run from the repo root:

    .venv/bin/python tools/build_sample_lakes.py            # rewrites data/lakes/*/
    .venv/bin/python tools/build_sample_lakes.py --out /tmp/lakes

Each lake is described in ``data/lakes/README.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import zstandard
from stellar_sdk import Network

from stellar_arrow.source.batch import encode_ledger_close_meta_batch
from stellar_arrow.source.files import read_ledger_file
from stellar_arrow.source.header import read_ledger_header
from stellar_arrow.source.keys import LakeSchema
from stellar_arrow.source.manifest import MANIFEST_NAME, LakeManifest

__all__ = ["LAKES", "LakeSpec", "build_lake", "main"]

REPO = Path(__file__).resolve().parent.parent
ZSTD_LEVEL = 9
STANDALONE_PASSPHRASE = "Standalone Network ; February 2017"


@dataclass(frozen=True)
class LakeSpec:
    """One lake: corpus files, layout, network, and an optional inclusive ledger window."""

    name: str
    corpus_files: tuple[str, ...]
    network_passphrase: str
    ledgers_per_batch: int = 1
    batches_per_partition: int = 64000
    extension: str = "zst"
    write_manifest: bool = True
    copy_objects: bool = False  # corpus files are already SEP-54 objects: copy their bytes as is
    last_ledger: int | None = None


P26 = tuple(f"pubnet-{seq:010d}.xdr.gz" for seq in range(63092982, 63093002))

LAKES: tuple[LakeSpec, ...] = (
    LakeSpec("pubnet-p26", P26, Network.PUBLIC_NETWORK_PASSPHRASE),
    # 4 ledgers per batch, 2 batches per partition (8-ledger partition folders). The first object is
    # named for 63092980-63092983 but starts at 63092982 (startSequence semantics, like Galexie's
    # genesis batch); the incomplete tail 63093000-63093001 is left out (Galexie uploads only
    # complete batches).
    LakeSpec(
        "pubnet-p26-batch4",
        P26,
        Network.PUBLIC_NETWORK_PASSPHRASE,
        ledgers_per_batch=4,
        batches_per_partition=2,
        last_ledger=63092999,
    ),
    LakeSpec(
        "pubnet-history",
        (
            "pubnet-v0-samples-p2-p19.b64.txt",
            "pubnet-0051000294.xdr.gz",
            "pubnet-0053312000.lcmbatch.xdr.zst",
            "pubnet-0057500008.xdr.gz",
            "pubnet-0060659332.lcmbatch.xdr",
        ),
        Network.PUBLIC_NETWORK_PASSPHRASE,
    ),
    # Objects from a pre-v23 Galexie bucket (stellar-horizon testbucket_zstd), kept byte for byte:
    # old ".xdr.zstd" extension, no partition folders, no manifest.
    LakeSpec(
        "testnet/2024-02-06-zstd",
        tuple(f"testnet-{seq:010d}.lcmbatch.xdr.zst" for seq in (997, 998, 999)),
        Network.TESTNET_NETWORK_PASSPHRASE,
        batches_per_partition=1,
        extension="zstd",
        write_manifest=False,
        copy_objects=True,
    ),
    LakeSpec(
        "testnet/2025-06-18",
        ("testnet-0000004478.xdr", "testnet-0000004873.xdr"),
        Network.TESTNET_NETWORK_PASSPHRASE,
    ),
    LakeSpec(
        "testnet/2025-10-02",
        ("testnet-0000848581.xdr", "testnet-0000848582.xdr"),
        Network.TESTNET_NETWORK_PASSPHRASE,
    ),
    LakeSpec("testnet/2026-03-02", ("testnet-0001283415.xdr",), Network.TESTNET_NETWORK_PASSPHRASE),
    LakeSpec(
        "standalone-p23",
        ("synthetic-standalone-p23-loadtest-84-88.framed.xdr.zst",),
        STANDALONE_PASSPHRASE,
    ),
)


def _compress(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_content_size=True, threads=0).compress(data)


def build_lake(spec: LakeSpec, corpus: Path, out: Path) -> list[Path]:
    """Write one lake under ``out/spec.name`` (replacing it) and return the object paths written."""
    root = out / spec.name
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    schema = LakeSchema(spec.ledgers_per_batch, spec.batches_per_partition, spec.extension)
    written: list[Path] = []
    if spec.copy_objects:
        for name in spec.corpus_files:
            (lcm,) = read_ledger_file(corpus / name)
            target = root / schema.batch_key(read_ledger_header(lcm).ledger_sequence).key
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(corpus / name, target)
            written.append(target)
    else:
        by_sequence: dict[int, bytes] = {}
        for name in spec.corpus_files:
            for lcm in read_ledger_file(corpus / name):
                by_sequence[read_ledger_header(lcm).ledger_sequence] = lcm
        batches: dict[int, list[int]] = {}
        for seq in sorted(by_sequence):
            if spec.last_ledger is None or seq <= spec.last_ledger:
                batches.setdefault(schema.batch_start(seq), []).append(seq)
        for first, seqs in batches.items():
            if seqs != list(range(seqs[0], seqs[-1] + 1)):
                msg = f"{spec.name}: batch at {first} would hold non-consecutive ledgers {seqs}"
                raise SystemExit(msg)
            payload = encode_ledger_close_meta_batch(seqs[0], seqs[-1], [by_sequence[s] for s in seqs])
            target = root / schema.batch_key(first).key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(_compress(payload))
            written.append(target)
    if spec.write_manifest:
        manifest = LakeManifest(
            network_passphrase=spec.network_passphrase,
            ledgers_per_batch=spec.ledgers_per_batch,
            batches_per_partition=spec.batches_per_partition,
        )
        (root / MANIFEST_NAME).write_bytes(manifest.to_json())
    return written


def main(argv: list[str] | None = None) -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--corpus", type=Path, default=REPO / "data" / "corpus")
    parser.add_argument("--out", type=Path, default=REPO / "data" / "lakes")
    args = parser.parse_args(argv)
    for spec in LAKES:
        paths = build_lake(spec, args.corpus, args.out)
        size = sum(p.stat().st_size for p in paths)
        digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(paths))).hexdigest()[:16]
        print(f"{spec.name:28s} {len(paths):3d} objects {size:>10,d} bytes sha256:{digest}")


if __name__ == "__main__":
    main()
