from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stellar_arrow.errors import ConfigError
from stellar_arrow.source.keys import LakeSchema, parse_object_name

# The six rows of ../shared/docs/ledger-sources.md §1.1 (computed with the SEP-54 formula).
VECTORS = [
    (2, 1, 64000, "FFFFFFFF--0-63999/FFFFFFFD--2.xdr.zst"),
    (63999, 1, 64000, "FFFFFFFF--0-63999/FFFF0600--63999.xdr.zst"),
    (64000, 1, 64000, "FFFF05FF--64000-127999/FFFF05FF--64000.xdr.zst"),
    (61000000, 1, 64000, "FC5D55FF--60992000-61055999/FC5D36BF--61000000.xdr.zst"),
    (50000000, 8, 64000, "FD0A2FFF--49664000-50175999/FD050F7F--50000000-50000007.xdr.zst"),
    (2, 8, 64000, "FFFFFFFF--0-511999/FFFFFFFF--0-7.xdr.zst"),
]


@pytest.mark.parametrize(("seq", "per_batch", "per_partition", "key"), VECTORS)
def test_key_vectors_from_the_doc(seq: int, per_batch: int, per_partition: int, key: str) -> None:
    assert LakeSchema(per_batch, per_partition).batch_key(seq).key == key


def test_no_partition_folder_and_old_extension() -> None:
    assert LakeSchema(1, 1, "zstd").batch_key(997).key == "FFFFFC1A--997.xdr.zstd"


def test_quoted_pubnet_partition_name() -> None:
    assert LakeSchema(1, 64000).batch_key(62016000).key.startswith("FC4DB5FF--62016000-62079999/")


@given(
    st.integers(min_value=0, max_value=0xFFFFFFFF - 70000),
    st.sampled_from([1, 4, 8, 64, 1000]),
    st.sampled_from([1, 2, 100, 64000]),
)
def test_key_round_trips_through_the_name_parser(seq: int, per_batch: int, per_partition: int) -> None:
    batch = LakeSchema(per_batch, per_partition).batch_key(seq)
    parsed = parse_object_name(batch.key.rsplit("/", 1)[-1])
    assert parsed is not None
    assert (parsed.low, parsed.high, parsed.extension) == (batch.first_ledger, batch.last_ledger, "zst")
    assert parsed.low <= seq <= parsed.high
    # newest first: a later batch sorts before an earlier one
    later = LakeSchema(per_batch, per_partition).batch_key(batch.last_ledger + 1)
    assert later.key.rsplit("/", 1)[-1] < batch.key.rsplit("/", 1)[-1]


@pytest.mark.parametrize(
    "name",
    [
        ".config.json",
        "FC3D4709--63092982.json",
        "FC3D470--63092982.xdr.zst",
        "x--1.xdr.zst",
        "FFFFFFFF--9-3.xdr.zst",
    ],
)
def test_non_object_names_are_skipped(name: str) -> None:
    assert parse_object_name(name) is None


def test_invalid_schema_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="ledgers_per_batch"):
        LakeSchema(0, 1)
    with pytest.raises(ConfigError, match="batches_per_partition"):
        LakeSchema(1, 0)
    with pytest.raises(ConfigError, match="extension"):
        LakeSchema(1, 1, "x/y")
