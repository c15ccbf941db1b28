"""Filter expressions shared by the surface tests: valid ones with their hand-written DuckDB equivalent,
and hostile ones every surface must refuse with a typed error naming the position.

The equivalents are plain SQL over the ``token_transfers`` Parquet files (written by hand, not produced by
the compiler), so a surface that answers like them applies the expression as SQL means it.
"""

from __future__ import annotations

from typing import Final

#: (query parameters of a filter, equivalent DuckDB predicate over token_transfers)
VALID: Final[list[tuple[dict[str, str], str]]] = [
    ({"where": "event_type = 'mint'"}, "event_type = 'mint'"),
    ({"where": "amount >= 100 AND asset_code = 'USDC'"}, "amount >= 100 AND asset_code = 'USDC'"),
    ({"where": "amount_raw >= 10000000"}, "CAST(amount_raw AS HUGEINT) >= 10000000"),
    (
        {"where": "operation_type IN ('payment', 'path_payment_strict_send') AND NOT event_type = 'mint'"},
        "operation_type IN ('payment', 'path_payment_strict_send') AND event_type <> 'mint'",
    ),
    (
        {"where": "(asset LIKE 'credit_alphanum4:USDC:%' OR to_muxed IS NOT NULL) AND operation_index <= 3"},
        "(asset LIKE 'credit_alphanum4:USDC:%' OR to_muxed IS NOT NULL) AND operation_index <= 3",
    ),
    (
        {"where": "ledger_sequence BETWEEN 63092983 AND 63092985 AND operation_type IS NULL"},
        "ledger_sequence BETWEEN 63092983 AND 63092985 AND event_type = 'fee'",
    ),
    (
        {"filter": "successful_payments"},
        "event_type = 'transfer' AND operation_type IN "
        "('payment', 'path_payment_strict_receive', 'path_payment_strict_send')",
    ),
    ({"filter": "large_amounts"}, "CAST(amount_raw AS HUGEINT) >= 10000000"),
    (
        {"operation_type": "create_claimable_balance,claim_claimable_balance"},
        "operation_type IN ('create_claimable_balance', 'claim_claimable_balance')",
    ),
    (
        {
            "filter": "successful_payments,large_amounts",
            "where": "asset_code <> 'USDC' OR asset_code IS NULL",
        },
        "event_type = 'transfer' AND operation_type IN "
        "('payment', 'path_payment_strict_receive', 'path_payment_strict_send') "
        "AND CAST(amount_raw AS HUGEINT) >= 10000000 AND (asset_code <> 'USDC' OR asset_code IS NULL)",
    ),
]

#: (hostile expression, words of the refusal, position it must name)
HOSTILE: Final[list[tuple[str, str, int]]] = [
    ("sum(amount) > 1", "function calls are not allowed", 0),
    ("amount > (SELECT max(amount) FROM token_transfers)", "subqueries are not allowed", 10),
    ("amount > 1; DROP TABLE token_transfers", "';' is not allowed", 10),
    ("amount > 1 -- and the rest", "comments are not allowed", 11),
    ("amount > 1 /* hidden */ OR 1 = 1", "comments are not allowed", 11),
    ("secret_column = 1", "unknown column 'secret_column'", 0),
    ("read_parquet('/etc/passwd') IS NULL", "function calls are not allowed", 0),
    ("amount > " + "9" * 5000, "longer than 4096 characters", 4096),
    ("(" * 300 + "amount > 1" + ")" * 300, "nested", 0),
    ("NOT " * 500 + "amount > 1", "nested", 0),
    ("amount >", "cannot parse", 7),
]
