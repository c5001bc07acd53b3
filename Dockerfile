# Newshound: `docker build -t newshound .` then
# `docker run -v "$PWD/data:/data" -e DISCORD_TOKEN=… newshound` (keywords.yaml and the database live in /data).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    NEWSHOUND_DATABASE=/data/newshound.db \
    NEWSHOUND_KEYWORDS=/data/keywords.yaml

WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install . && rm -rf /src

RUN useradd --system --uid 10001 --home-dir /data newshound \
    && mkdir -p /data /defaults && chown newshound /data
COPY keywords.yaml /defaults/keywords.yaml

USER newshound
WORKDIR /data
VOLUME ["/data"]
STOPSIGNAL SIGTERM

# Start from the starter rules when the volume has none yet.
ENTRYPOINT ["/bin/sh", "-c", "[ -f \"$NEWSHOUND_KEYWORDS\" ] || cp /defaults/keywords.yaml \"$NEWSHOUND_KEYWORDS\"; exec newshound \"$@\"", "newshound"]
CMD ["run"]
