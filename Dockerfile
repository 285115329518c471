# Tower: `tower run` as a non-root user (a numeric uid, for runAsNonRoot), under tini, data in a
# volume, health from /healthz. Two stages: the build stage installs into a virtualenv, the image
# gets the virtualenv and nothing of the build.

FROM python:3.11-slim AS build

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/tower
ENV PATH=/opt/tower/bin:$PATH
WORKDIR /src

# Dependencies first, at the versions in constraints.txt: this layer is rebuilt only when
# pyproject.toml or constraints.txt change, not on every edit of Tower's source.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > requirements.txt \
 && pip install -c constraints.txt -r requirements.txt

# Then Tower itself, without touching the dependencies.
COPY README.md ./
COPY bot ./bot
COPY commands ./commands
COPY jobs ./jobs
COPY storage ./storage
RUN pip install --no-deps -c constraints.txt . \
 && pip check


FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# git: the local forge and the demo project drive the git CLI. tini: PID 1 that forwards SIGTERM to
# Tower and reaps the git and CI commands Tower starts.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 tower \
 && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin tower \
 && mkdir -p /var/lib/tower \
 && chown 10001:10001 /var/lib/tower

COPY --from=build /opt/tower /opt/tower

USER 10001:10001
ENV PATH=/opt/tower/bin:$PATH \
    HOME=/home/tower \
    TOWER_DATA_DIR=/var/lib/tower \
    TOWER_HTTP_HOST=0.0.0.0 \
    TOWER_HTTP_PORT=8080
VOLUME ["/var/lib/tower"]
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('TOWER_HTTP_PORT', '8080'), timeout=4)"

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["tower", "run"]
