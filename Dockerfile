# One image for every component of stellar-arrow: `docker run IMAGE run` runs the whole pipeline on the bundled
# sample lake (offline); `docker run IMAGE serve source|processor|sink --config /app/config/pipeline.yaml` runs
# one service; `docker run IMAGE export ...` a backfill. Build: docker build -t stellar-arrow .
FROM python:3.11.7-slim-bookworm AS build
# gcc and the C headers build the compiled decoder extension.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY pyproject.toml README.md ./
COPY src ./src
COPY tools ./tools
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir . \
 && /opt/venv/bin/python -m compileall -q /opt/venv/lib

FROM python:3.11.7-slim-bookworm
RUN groupadd --system --gid 10001 stellar \
 && useradd --system --uid 10001 --gid stellar --home-dir /app --shell /usr/sbin/nologin stellar
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=stellar:stellar data/lakes/pubnet-p26 /app/data/lakes/pubnet-p26
COPY --chown=stellar:stellar deploy/config /app/config
RUN install -d -o stellar -g stellar /app/data/run
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    GRPC_VERBOSITY=ERROR \
    HEALTH_PORT=8088
USER 10001:10001
# Flight (source, processor, sink), REST/WebSocket/dashboard, health ports (source, processor, sink).
EXPOSE 8815 8816 8817 8081 8088 8089 8090
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['HEALTH_PORT'] + '/health/live', timeout=4)"]
ENTRYPOINT ["stellar-arrow"]
CMD ["run"]
