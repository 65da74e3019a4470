# shellcheck shell=bash
# Helpers for scripts/test, scripts/demo and bench/run: install what is missing,
# make throwaway TLS certificates, start and stop throwaway PostgreSQL 15
# clusters on free ports. Source this file; it defines functions only.
#
#   pg_install_deps                      apt-get install whatever is missing
#   pg_make_certs DIR                    CA, server (CN=localhost) and client certs
#   pg_free_port                         print a free TCP port on 127.0.0.1
#   pg_cluster_start NAME PORT DIR [CERTDIR]
#                                        initdb + start; roles pgdual_test, trust_user,
#                                        clear_user, md5_user (password $PGDUAL_TEST_PASSWORD)
#   pg_cluster_stop DIR                  stop (fast) and remove DIR
#   pg_cluster_stop_all                  stop every cluster this shell started (for traps)

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_SUPERUSER=postgres

# Clusters started by this shell, so a trap can stop them all.
PG_CLUSTERS_STARTED=()
# Ports handed out by pg_free_port, so two calls never return the same one.
PG_PORTS_HANDED_OUT=()

pg_section() { printf '\n==== %s ====\n' "$*"; }
pg_log() { printf '[pg_cluster] %s\n' "$*" >&2; }

_pg_as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

_pg_is_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# Installs the build dependencies, PostgreSQL 15, PgBouncer and the client
# drivers the integration tests use. Idempotent: apt-get runs only when a
# package is missing, and `apt-get update` at most once.
pg_install_deps() {
  local wanted=(
    cmake ninja-build g++ pkg-config libboost1.81-dev libssl-dev libpq-dev
    libpg-query-dev libprotobuf-c-dev libyaml-cpp-dev libspdlog-dev catch2
    prometheus-cpp-dev
    postgresql-15 postgresql-client-15 pgbouncer
    python3 python3-psycopg python3-pytest libpostgresql-jdbc-java
    openssl
    # The operator's view (docs/operations.md): the status page in headless Chromium, the
    # alert rules (promtool), the Helm chart's values schema and YAML lint.
    chromium prometheus python3-jsonschema yamllint
  )
  # A JDK may already be installed under another package name.
  command -v javac >/dev/null 2>&1 || wanted+=(default-jdk-headless)
  # Debian's nodejs conflicts with a NodeSource node; only install it if no
  # node at all is present. node-postgres comes from npm, not from Debian.
  command -v node >/dev/null 2>&1 || wanted+=(nodejs npm)

  local missing=() pkg
  for pkg in "${wanted[@]}"; do
    _pg_is_installed "$pkg" || missing+=("$pkg")
  done
  if ((${#missing[@]} == 0)); then
    pg_log "all packages present"
    return 0
  fi
  pg_log "installing: ${missing[*]}"
  _pg_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  _pg_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    --no-install-recommends "${missing[@]}"
  # The Debian postgresql package starts its own default cluster on 5432; we
  # do not use it, but leave it alone: it is not ours to stop.
}

# pg_make_certs DIR: a throwaway CA, a server certificate for localhost
# (SAN DNS:localhost, IP:127.0.0.1) used by both backends and by pgdual, and a
# client certificate (CN=pgdual_test). Files: ca.crt ca.key server.crt
# server.key client.crt client.key. server.key is root:postgres 0640, which
# PostgreSQL accepts; client.key is 0600 for libpq.
pg_make_certs() {
  local dir=$1
  mkdir -p "$dir"
  chmod 755 "$dir"
  (
    set -euo pipefail
    cd "$dir"
    cat >ca.ext <<'EOF'
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
    cat >server.ext <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
authorityKeyIdentifier = keyid
EOF
    cat >client.ext <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
EOF
    local quiet=(-batch)
    openssl req "${quiet[@]}" -new -newkey rsa:2048 -nodes -keyout ca.key \
      -subj '/CN=pgdual test CA' -out ca.csr 2>/dev/null
    openssl x509 -req -in ca.csr -signkey ca.key -days 30 -sha256 \
      -extfile ca.ext -out ca.crt 2>/dev/null
    local name cn
    for name in server client; do
      if [[ $name == server ]]; then cn=localhost; else cn=pgdual_test; fi
      openssl req "${quiet[@]}" -new -newkey rsa:2048 -nodes -keyout "$name.key" \
        -subj "/CN=$cn" -out "$name.csr" 2>/dev/null
      openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
        -days 30 -sha256 -extfile "$name.ext" -out "$name.crt" 2>/dev/null
    done
    rm -f ./*.csr ./*.ext ca.srl
    chmod 644 ca.crt server.crt client.crt
    chmod 600 ca.key client.key
    if [[ $(id -u) -eq 0 ]] && id "$PG_SUPERUSER" >/dev/null 2>&1; then
      chown "root:$(id -gn "$PG_SUPERUSER")" server.key
      chmod 640 server.key
    else
      chmod 600 server.key
    fi
    openssl verify -CAfile ca.crt server.crt client.crt >/dev/null
  )
}

# Prints a TCP port that is free on 127.0.0.1. Picks below the kernel's
# ephemeral range so that outgoing connections (the tests open thousands)
# cannot take it before the server binds it.
pg_free_port() {
  local port used taken
  for _ in $(seq 1 200); do
    port=$((20000 + RANDOM % 12000))
    taken=0
    for used in "${PG_PORTS_HANDED_OUT[@]}"; do
      [[ $used == "$port" ]] && taken=1
    done
    ((taken)) && continue
    if /usr/bin/python3 - "$port" <<'EOF' 2>/dev/null; then
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.close()
EOF
      PG_PORTS_HANDED_OUT+=("$port")
      echo "$port"
      return 0
    fi
  done
  pg_log "no free port found"
  return 1
}

_pg_as_postgres() {
  runuser -u "$PG_SUPERUSER" -- "$@"
}

# pg_cluster_start NAME PORT DIR [CERTDIR]: a throwaway PostgreSQL 15 cluster in
# DIR (created; its parent must be traversable by the postgres user) listening
# on 127.0.0.1:PORT with TLS from CERTDIR (default $PGDUAL_TEST_CERTS).
pg_cluster_start() {
  local name=$1 port=$2 dir=$3 certs=${4:-${PGDUAL_TEST_CERTS:-}}
  local password=${PGDUAL_TEST_PASSWORD:?PGDUAL_TEST_PASSWORD must be set}
  if [[ -z $certs || ! -f $certs/server.crt ]]; then
    pg_log "pg_cluster_start $name: no certificates (run pg_make_certs first)"
    return 1
  fi
  mkdir -p "$dir"
  chown "$PG_SUPERUSER:" "$dir"
  chmod 700 "$dir"
  PG_CLUSTERS_STARTED+=("$dir")
  local data=$dir/data sock=$dir/sock
  _pg_as_postgres mkdir -p "$sock"
  if ! _pg_as_postgres "$PG_BIN/initdb" -D "$data" -U "$PG_SUPERUSER" -A trust \
    -E UTF8 --no-locale --no-sync >"$dir/initdb.log" 2>&1; then
    pg_log "initdb for $name failed:"
    cat "$dir/initdb.log" >&2
    return 1
  fi
  _pg_as_postgres tee -a "$data/postgresql.conf" >/dev/null <<EOF

# --- pgdual throwaway test cluster "$name" ---
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sock'
max_connections = ${PG_MAX_CONNECTIONS:-300}
max_prepared_transactions = 10
fsync = off
synchronous_commit = off
full_page_writes = off
ssl = on
ssl_cert_file = '$certs/server.crt'
ssl_key_file = '$certs/server.key'
ssl_ca_file = '$certs/ca.crt'
password_encryption = 'scram-sha-256'
cluster_name = 'pgdual-$name'
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
# strategy cdc (docs/cdc.md): logical replication in both directions (forward, and reverse
# after cutover), with room for the table-sync workers' slots.
wal_level = logical
max_replication_slots = 40
max_wal_senders = 40
max_logical_replication_workers = 16
max_worker_processes = 24
max_sync_workers_per_subscription = 2
wal_sender_timeout = 10s
EOF
  _pg_as_postgres tee "$data/pg_hba.conf" >/dev/null <<EOF
# TYPE  DATABASE  USER         ADDRESS        METHOD
local   all       all                         trust
host    all       trust_user   127.0.0.1/32   trust
host    all       clear_user   127.0.0.1/32   password
host    all       md5_user     127.0.0.1/32   md5
host    all       all          127.0.0.1/32   scram-sha-256
EOF
  if ! _pg_as_postgres "$PG_BIN/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
    start >/dev/null; then
    pg_log "cluster $name failed to start:"
    cat "$dir/server.log" >&2
    return 1
  fi
  # Variables interpolate only in psql's script input, not in -c.
  _pg_as_postgres "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" \
    -U "$PG_SUPERUSER" -d postgres -v pw="$password" >/dev/null <<'EOF'
CREATE ROLE pgdual_test LOGIN SUPERUSER CREATEDB PASSWORD :'pw';
CREATE ROLE trust_user LOGIN CREATEDB PASSWORD :'pw';
CREATE ROLE clear_user LOGIN CREATEDB PASSWORD :'pw';
SET password_encryption = 'md5';
CREATE ROLE md5_user LOGIN CREATEDB PASSWORD :'pw';
EOF
  pg_log "cluster $name up on 127.0.0.1:$port (data $data)"
}

# pg_cluster_stop DIR: stops the cluster in DIR (fast shutdown, then SIGKILL if
# it will not stop) and removes DIR. Safe to call twice or on a half-made DIR.
pg_cluster_stop() {
  local dir=$1 data=$1/data
  [[ -n $dir && -d $dir ]] || return 0
  if [[ -f $data/postmaster.pid ]]; then
    if ! _pg_as_postgres "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t 30 stop \
      >/dev/null 2>&1; then
      local pid
      pid=$(head -1 "$data/postmaster.pid" 2>/dev/null || true)
      if [[ -n $pid ]]; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
  fi
  rm -rf -- "$dir"
}

pg_cluster_stop_all() {
  local dir
  for dir in "${PG_CLUSTERS_STARTED[@]}"; do
    pg_cluster_stop "$dir"
  done
  PG_CLUSTERS_STARTED=()
}
