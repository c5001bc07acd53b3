# Newshound: `docker build -t newshound .` then
# `docker run -v "$PWD/data:/data" -e DISCORD_TOKEN=… newshound` (keywords.yaml and the database live in /data).
# A build stage with a C compiler builds the wheel, so the image gets the C accelerator of the parse stage
# (bot/parse/_speedups.c) without carrying the compiler.
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in README.md ./
COPY bot ./bot
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    NEWSHOUND_DATABASE=/data/newshound.db \
    NEWSHOUND_KEYWORDS=/data/keywords.yaml

COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels \
    && python -c "import bot.parse._speedups"

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
