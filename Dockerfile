# signroom service image. Build and check it without a Docker engine with
# scripts/check-image (buildah, chroot isolation); any OCI builder builds it as is.
FROM debian:bookworm-slim

ARG DEBIAN_FRONTEND=noninteractive
# The runtime half of scripts/debian-packages.txt: the interpreter, the CJK font the
# contract and seal embed, poppler for the phone's page images, the shared
# libraries OpenCV's wheel links against. Test-only tools (chromium, postgresql,
# coturn, softhsm2, ffmpeg) stay out.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ca-certificates python3 python3-venv fonts-wqy-zenhei poppler-utils \
        libgl1 libglib2.0-0 libgomp1 tzdata \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/signroom \
        --shell /usr/sbin/nologin signroom \
    && install -d -o signroom -g signroom -m 0750 /var/lib/signroom /var/lib/signroom-checkpoints

WORKDIR /opt/signroom
# Dependencies first, pinned by constraints.txt, so a code change reuses this layer.
# A site whose egress goes through a TLS-inspecting proxy passes its CA bundle as the
# build secret `ca_bundle` (scripts/check-image does); it is used for pip only and
# never stored in the image.
COPY pyproject.toml constraints.txt README.md ./
RUN --mount=type=secret,id=ca_bundle \
    if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi \
    && python3 -m venv /opt/signroom/venv \
    && /opt/signroom/venv/bin/python -c "import tomllib; \
d = tomllib.load(open('pyproject.toml', 'rb')); \
open('/tmp/requirements.txt', 'w').write('\\n'.join(d['project']['dependencies']))" \
    && /opt/signroom/venv/bin/pip install --no-cache-dir --quiet --upgrade pip 'setuptools>=68' \
    && /opt/signroom/venv/bin/pip install --no-cache-dir --quiet \
        --constraint constraints.txt --requirement /tmp/requirements.txt \
    && rm /tmp/requirements.txt
COPY web ./web
COPY cli ./cli
COPY config ./config
COPY interview ./interview
COPY cluster ./cluster
COPY jobs ./jobs
COPY live_identity ./live_identity
COPY compliance ./compliance
COPY integration ./integration
COPY media ./media
COPY kyc ./kyc
COPY signing ./signing
COPY loans ./loans
COPY audit ./audit
COPY store ./store
COPY workers ./workers
COPY errors ./errors
# No build isolation: setuptools came with the dependencies, and this step needs no network.
RUN /opt/signroom/venv/bin/pip install --no-cache-dir --quiet --no-deps --no-build-isolation . \
    && rm -rf /opt/signroom/build
COPY scripts/container-entrypoint.sh /usr/local/bin/signroom-entrypoint

ENV PATH=/opt/signroom/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SIGNROOM_DATA_DIR=/var/lib/signroom \
    SIGNROOM_DATABASE_URL=sqlite+aiosqlite:////var/lib/signroom/signroom.db \
    SIGNROOM_HOST=0.0.0.0 \
    SIGNROOM_PORT=8080 \
    SIGNROOM_CHECKPOINT_EXPORT_DIR=/var/lib/signroom-checkpoints

USER signroom
WORKDIR /var/lib/signroom
# Checkpoints go to a volume of their own: mount it from another disk or bucket,
# so a database rolled back is caught against them (README, "anchored log").
VOLUME ["/var/lib/signroom", "/var/lib/signroom-checkpoints"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["signroom-entrypoint"]
CMD ["signroom", "serve"]
