"""The XDR code generator (build tooling, not part of the runtime package).

Reads ``stellar_arrow/xdr/schema/xdr.json`` (through :mod:`stellar_arrow.xdr.definitions`) and
writes the generated modules of ``stellar_arrow.xdr``; run ``python -m tools.xdrgen`` from the
repository root. :mod:`.generate` lists what it writes.
"""
