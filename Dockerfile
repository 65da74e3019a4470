# pgdual container image: built on Debian bookworm, run on bookworm-slim as a non-root user.
#
#   docker build -t pgdual .
#   docker run --rm -p 6432:6432 -v "$PWD/pgdual.yaml:/etc/pgdual/pgdual.yaml:ro" pgdual
#
# Mount the configuration at /etc/pgdual/pgdual.yaml (inside a container, `listen` must be
# 0.0.0.0:6432 for a published port to reach it). See docs/deployment.md.

# ---- build ---------------------------------------------------------------------------------
FROM debian:bookworm AS build

# The build dependencies of scripts/lib/pg_cluster.sh's pg_install_deps (catch2 too: the
# project's CMake configuration looks for it even when only pgdual is built).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      cmake ninja-build g++ pkg-config \
      libboost1.81-dev libssl-dev libpq-dev libpg-query-dev libprotobuf-c-dev \
      libyaml-cpp-dev libspdlog-dev catch2 prometheus-cpp-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
 && cmake --build /build --target pgdual \
 && strip /build/pgdual

# ---- runtime -------------------------------------------------------------------------------
FROM debian:bookworm-slim

# Only the shared libraries pgdual links (ldd), plus libpq5, libpg-query and protobuf-c, which
# the build links when the code uses them (the linker drops unused ones); curl for the health
# check and probes; CA certificates for sslrootcert bundles.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libssl3 libyaml-cpp0.7 libspdlog1.10 libfmt9 libprometheus-cpp-core1.0 \
      libpq5 libpg-query1504.0 libprotobuf-c1 \
      ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*

# A fixed uid/gid so that Kubernetes securityContext and file ownership can name it.
RUN groupadd --system --gid 10001 pgdual \
 && useradd --system --uid 10001 --gid pgdual --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin pgdual \
 && mkdir -p /etc/pgdual

COPY --from=build /build/pgdual /usr/local/bin/pgdual
COPY deploy/pgdual.example.yaml /etc/pgdual/pgdual.example.yaml

# Fail the image build, not the first start, if a shared library is missing.
RUN if ldd /usr/local/bin/pgdual | grep 'not found'; then exit 1; fi \
 && pgdual --version

USER pgdual:pgdual
EXPOSE 6432 9187

# /healthz on the admin port, from inside the container (so admin_listen may stay 127.0.0.1).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD curl -fsS -o /dev/null --max-time 2 http://127.0.0.1:9187/healthz || exit 1

# SIGTERM (docker stop) drains sessions for up to limits.drain_timeout_ms; give `docker stop`
# a longer --time than that.
STOPSIGNAL SIGTERM
ENTRYPOINT ["pgdual", "run", "--config", "/etc/pgdual/pgdual.yaml"]
