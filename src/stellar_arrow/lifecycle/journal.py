"""The lifecycle journal: every action's intent is durable before it starts, its outcome after it ends.

``DIR/_lifecycle/journal/<id>.intent.json`` holds everything needed to finish or undo the action (the files
it removes, the files it writes, the archive copies it makes); ``<id>.done.json`` records the outcome
(``committed``, ``rolled_back``). An intent without its outcome is an interrupted action:
:mod:`stellar_arrow.lifecycle.recovery` completes or rolls it back before anything else runs.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from stellar_arrow.errors import LifecycleError
from stellar_arrow.sink.durable import write_atomically
from stellar_arrow.sink.manifest import FileManifest

__all__ = ["JOURNAL_DIR", "Intent", "Journal"]

JOURNAL_DIR: Final = "_lifecycle/journal"


@dataclass(frozen=True, slots=True)
class Intent:
    """One action about to run."""

    id: str
    kind: str  # compact | archive | delete | purge | delete_log | sweep | delta_compact | delta_delete
    table: str
    created_at: str
    removed: tuple[FileManifest, ...] = ()  # files the action takes out of the output directory
    added: tuple[FileManifest, ...] = ()  # files it writes there (compaction)
    paths: tuple[str, ...] = ()  # other paths it touches: archive copies, logs, retired files
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes, origin: str) -> Intent:
        try:
            body = json.loads(raw)
            return cls(
                id=str(body["id"]),
                kind=str(body["kind"]),
                table=str(body["table"]),
                created_at=str(body["created_at"]),
                removed=tuple(FileManifest(**m) for m in body["removed"]),
                added=tuple(FileManifest(**m) for m in body["added"]),
                paths=tuple(str(p) for p in body["paths"]),
                detail=dict(body["detail"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            msg = f"journal entry {origin} is not valid: {exc}"
            raise LifecycleError(msg, path=origin) from exc


class Journal:
    """The journal folder of one output directory."""

    def __init__(self, root: Path) -> None:
        self.folder = Path(root) / JOURNAL_DIR

    @staticmethod
    def new_id(kind: str) -> str:
        return f"{kind}-{uuid.uuid4().hex[:16]}"

    def begin(self, intent: Intent) -> None:
        """Write the intent durably (before the action changes anything)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        body = intent.to_json()
        write_atomically(self.folder / f"{intent.id}.intent.json", lambda fh: fh.write(body))

    def finish(self, intent: Intent, outcome: str, at: str) -> None:
        """Record the outcome durably, then drop the intent."""
        body = json.dumps({"id": intent.id, "kind": intent.kind, "outcome": outcome, "at": at}).encode()
        write_atomically(self.folder / f"{intent.id}.done.json", lambda fh: fh.write(body))
        (self.folder / f"{intent.id}.intent.json").unlink(missing_ok=True)

    def open_intents(self) -> list[Intent]:
        """Intents without an outcome, oldest first."""
        if not self.folder.is_dir():
            return []
        found: list[tuple[float, Intent]] = []
        for path in self.folder.glob("*.intent.json"):
            ident = path.name.removesuffix(".intent.json")
            if (self.folder / f"{ident}.done.json").exists():
                path.unlink(missing_ok=True)
                continue
            found.append((path.stat().st_mtime, Intent.from_json(path.read_bytes(), str(path))))
        return [intent for _, intent in sorted(found, key=lambda item: item[0])]

    def outcomes(self) -> list[dict[str, Any]]:
        """Every recorded outcome (for reports and tests)."""
        if not self.folder.is_dir():
            return []
        return [json.loads(p.read_bytes()) for p in sorted(self.folder.glob("*.done.json"))]
