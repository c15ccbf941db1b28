"""``python -m tools.xdrgen``: regenerate the XDR model and decoders from the schema."""

from __future__ import annotations

from tools.xdrgen.generate import main

main()
