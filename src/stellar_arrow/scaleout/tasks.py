"""What a Dask worker runs: one chunk of an export, written exactly as a one-process export writes it.

A task receives the settings without secrets (:func:`task_settings`); the worker rebuilds them with its
own environment, so credentials (``STELLAR_ARROW_*`` variables, cloud credentials for fsspec) come from
the worker and are never serialised into the task graph. It returns only the chunk's manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pydantic import SecretStr

from stellar_arrow.config import Settings, load_settings
from stellar_arrow.errors import ConfigError, StellarArrowError, TerminalError
from stellar_arrow.export.job import output_store, run_export
from stellar_arrow.export.manifest import ChunkManifest, read_manifest

__all__ = ["CREDENTIAL_OPTIONS", "ChunkResult", "export_chunk", "task_settings"]

#: fsspec storage options that are credentials: refused in a cluster export (give them to the workers'
#: environment instead, e.g. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or GOOGLE_APPLICATION_CREDENTIALS).
CREDENTIAL_OPTIONS: Final = frozenset(
    {"key", "secret", "token", "password", "session_token", "client_secret", "access_key", "secret_key"}
)


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """A written chunk's manifest, or the terminal error that stopped it (not retried)."""

    first_ledger: int
    last_ledger: int
    manifest: ChunkManifest | None
    error: StellarArrowError | None = None


def task_settings(settings: Settings) -> dict[str, Any]:
    """``settings`` as plain sections for a task: secret values dropped, one worker process per task."""
    for key, options in (
        ("source.storage_options", settings.source.storage_options),
        ("export.output_storage_options", settings.export.output_storage_options),
    ):
        leaked = sorted(k for k in options if k.lower() in CREDENTIAL_OPTIONS)
        if leaked:
            msg = (
                f"{key} {', '.join(leaked)} are credentials: a cluster export does not send them to "
                "workers; set them in each worker's environment instead"
            )
            raise ConfigError(msg, key=key)
    body: dict[str, Any] = {}
    for name in type(settings).model_fields:
        section = getattr(settings, name)
        values = section.model_dump(mode="json")
        for field_name in type(section).model_fields:
            if isinstance(getattr(section, field_name), SecretStr):
                values.pop(field_name, None)
        body[name] = values
    for section, key in (("source", "datalake_uri"), ("export", "output_dir")):
        value = body[section].get(key)
        if isinstance(value, str) and "://" not in value:  # workers may run in another folder
            body[section][key] = str(Path(value).absolute())
    body["export"]["workers"] = 0
    body["export"]["cluster"] = None
    body["export"]["scheduler"] = None
    return body


def export_chunk(sections: dict[str, Any], first_ledger: int, last_ledger: int) -> ChunkResult:
    """Write chunk ``[first_ledger, last_ledger]`` (skipped when already complete) and return its manifest.

    Transient failures raise, so the scheduler retries the task (on another worker if this one died);
    terminal ones (bad ledger, wrong network, bad settings) are returned and stop the export.
    """
    source = {**sections["source"], "start_ledger": first_ledger, "end_ledger": last_ledger}
    try:
        settings = load_settings(None, **{**sections, "source": source})
        run_export(settings)
    except StellarArrowError as exc:
        if isinstance(exc, TerminalError):
            return ChunkResult(first_ledger, last_ledger, None, exc)
        raise
    manifest = read_manifest(output_store(settings), first_ledger, last_ledger)
    return ChunkResult(first_ledger, last_ledger, manifest)
