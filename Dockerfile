# Tower: `tower run` as a non-root user, data in a volume, health from /healthz.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# git: the local forge and the demo project drive the git CLI.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 --shell /usr/sbin/nologin tower \
 && mkdir -p /var/lib/tower \
 && chown tower:tower /var/lib/tower

WORKDIR /opt/tower
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY commands ./commands
COPY jobs ./jobs
COPY storage ./storage
RUN pip install . && rm -rf /opt/tower/build

USER tower
ENV TOWER_DATA_DIR=/var/lib/tower \
    TOWER_HTTP_HOST=0.0.0.0 \
    TOWER_HTTP_PORT=8080
VOLUME ["/var/lib/tower"]
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('TOWER_HTTP_PORT', '8080'), timeout=4)"

CMD ["tower", "run"]
