# Dockerfile - the ORFEAS server image (issue 7, deployment).
#
# Two stages on Debian 12 (bookworm-slim):
#  - build: the same scripts/setup.sh the README's `make` runs installs the
#    compiler and libraries, then `make` builds build/orfeas;
#  - runtime: `scripts/setup.sh runtime` installs only the shared libraries
#    build/orfeas links and curl (for the HEALTHCHECK); the binary, the
#    segmentation network's model (build/models/u2netp.onnx, found as
#    models/ beside the binary) and, when the build made one, the web studio
#    (build/web, served as web/ beside the binary) are copied in.  It runs as the unprivileged user `orfeas`, listens
#    on 0.0.0.0:5000 inside the container and keeps its cache in the volume
#    /var/lib/orfeas.  SIGTERM drains (running and queued jobs finish).
#
#   docker build -t orfeas .
#   docker run -p 5000:5000 -v orfeas-data:/var/lib/orfeas orfeas
# tests/test_deploy.sh checks these steps against scripts/setup.sh.

FROM debian:bookworm-slim AS build
WORKDIR /src
# The package layer first, so a source change does not reinstall packages.
COPY scripts/setup.sh scripts/setup.sh
RUN bash scripts/setup.sh build && rm -rf /var/lib/apt/lists/*
COPY . .
RUN make -j"$(nproc)" \
 && mkdir -p /out \
 && cp build/orfeas /out/orfeas \
 && cp -r build/models /out/models \
 && if [ -d build/web ]; then cp -r build/web /out/web; fi

FROM debian:bookworm-slim AS runtime
COPY scripts/setup.sh /tmp/setup.sh
RUN bash /tmp/setup.sh runtime && rm -rf /var/lib/apt/lists/* /tmp/setup.sh \
 && useradd --system --user-group --home-dir /var/lib/orfeas --shell /usr/sbin/nologin orfeas \
 && mkdir -p /var/lib/orfeas && chown orfeas:orfeas /var/lib/orfeas
COPY --from=build /out/ /opt/orfeas/
ENV ORFEAS_HOST=0.0.0.0 \
    ORFEAS_PORT=5000 \
    ORFEAS_DATA_DIR=/var/lib/orfeas
VOLUME ["/var/lib/orfeas"]
EXPOSE 5000
USER orfeas
WORKDIR /var/lib/orfeas
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD curl -fsS --max-time 4 "http://127.0.0.1:${ORFEAS_PORT}/health" >/dev/null || exit 1
ENTRYPOINT ["/opt/orfeas/orfeas"]
CMD ["serve"]
