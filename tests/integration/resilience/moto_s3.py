"""A moto S3 server on loopback that a test can stop (its port then refuses connections) and restart.

moto keeps its buckets in the process, so a restarted server on the same port serves the same objects:
what a real object store looks like after an outage.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

__all__ = ["REGION", "RestartableMoto", "upload_folder"]

REGION = "us-east-1"


class RestartableMoto:
    """``start``/``stop``/``start`` a moto server, always at the same ``endpoint``."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server: ThreadedMotoServer | None = None

    def start(self) -> RestartableMoto:
        deadline = time.monotonic() + 10
        while True:
            try:
                server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
                server.start()
                break
            except OSError:  # the old socket is not released yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._server = server
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket: connections are refused until ``start``."""
        if self._server is None:
            return
        wsgi = self._server._server
        self._server.stop()
        if wsgi is not None:
            wsgi.server_close()
        self._server = None

    def client(self) -> object:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            region_name=REGION,
        )


def upload_folder(client: object, bucket: str, folder: Path, prefix: str) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            key = f"{prefix}/{path.relative_to(folder).as_posix()}"
            client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())  # type: ignore[attr-defined]
