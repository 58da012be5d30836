#!/usr/bin/env bash
# A throwaway PostgreSQL for tests, benchmarks and the reliability harness. Source it
# (`. scripts/postgres.sh`), then call `aidlink_postgres_start`: it installs Debian's
# `postgresql` when no server binaries are found (apt, as root; otherwise it names the package),
# runs initdb into a new temporary folder (as the `postgres` system user when run as root:
# initdb refuses root), starts the server on a free loopback port with its socket in that
# folder, and exports
#     AIDLINK_TEST_POSTGRES=postgres://postgres@127.0.0.1:PORT/postgres
# and, as the server also takes TLS with a certificate of a throwaway CA,
#     AIDLINK_TEST_POSTGRES_CA=FOLDER/tls/ca.pem
# The server is stopped and its folder removed when the sourcing shell exits (an EXIT trap), or
# by `aidlink_postgres_stop`. Nothing here depends on a server started by hand.
# Run directly (`bash scripts/postgres.sh -- CMD ARGS…`), it runs CMD with the server up.

aidlink_postgres_say() { printf 'postgres: %s\n' "$*" >&2; }

# The newest installed server's bin folder (Debian keeps initdb and pg_ctl out of PATH).
aidlink_postgres_bin() {
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
        printf '%s\n' "$dir"
    fi
}

aidlink_postgres_install() {
    if [ -n "$(aidlink_postgres_bin)" ]; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        aidlink_postgres_say "PostgreSQL is missing: install Debian's package (sudo apt-get install -y postgresql), then run again"
        return 1
    fi
    aidlink_postgres_say "installing Debian's postgresql with apt (once)"
    apt-get update -qq
    # The package's own cluster is not used (ours lives in a temporary folder): keep it from
    # being created and started.
    mkdir -p /etc/postgresql-common
    if ! grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf; then
        echo 'create_main_cluster = false' >>/etc/postgresql-common/createcluster.conf
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    [ -n "$(aidlink_postgres_bin)" ]
}

aidlink_postgres_free_port() {
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Runs a server command as the owner of the data folder.
aidlink_postgres_as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# A test CA and a server certificate for 127.0.0.1 (and localhost) signed by it, in $1.
aidlink_postgres_tls() {
    local tls="$1"
    mkdir -p "$tls"
    (
        cd "$tls" &&
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
                -keyout ca.key -out ca.pem -days 3 -subj "/CN=aidlink test CA" &&
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
                -keyout server.key -out server.csr -subj "/CN=127.0.0.1" &&
            printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >server.ext &&
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
                -out server.pem -days 3 -extfile server.ext
    ) >"$tls/openssl.log" 2>&1 || return 1
    chmod 600 "$tls/server.key"
    if [ "$(id -u)" -eq 0 ]; then
        chown -R postgres:postgres "$tls"
    fi
}

aidlink_postgres_start() {
    if [ -n "${AIDLINK_POSTGRES_DIR:-}" ]; then
        return 0 # already started by this shell
    fi
    aidlink_postgres_install || return 1
    local bin dir port
    bin="$(aidlink_postgres_bin)"
    # Started by the script that runs this one (npm test runs the benchmarks and the harness),
    # and answering: use it.
    if [ -n "${AIDLINK_TEST_POSTGRES:-}" ] && "$bin/pg_isready" -q -d "$AIDLINK_TEST_POSTGRES"; then
        return 0
    fi
    dir="$(mktemp -d /tmp/aidlink-pg.XXXXXX)"
    chmod 755 "$dir"
    mkdir -p "$dir/data" "$dir/socket"
    if [ "$(id -u)" -eq 0 ]; then
        chown -R postgres:postgres "$dir"
    fi
    AIDLINK_POSTGRES_DIR="$dir"
    trap aidlink_postgres_stop EXIT
    if ! aidlink_postgres_as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust \
        --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2
        return 1
    fi
    # TLS as a managed server has it: a CA of its own and a certificate for 127.0.0.1 signed by
    # it, so the relay's `sslmode=require` (certificate verified) is tested against a real server;
    # plain connections keep working beside it.
    local tls_options=""
    if command -v openssl >/dev/null 2>&1 && aidlink_postgres_tls "$dir/tls"; then
        tls_options="-c ssl=on -c ssl_cert_file=$dir/tls/server.pem -c ssl_key_file=$dir/tls/server.key"
        export AIDLINK_TEST_POSTGRES_CA="$dir/tls/ca.pem"
    fi
    # Ports can be taken between the look-up and the start: a few tries.
    local try
    for try in 1 2 3 4 5; do
        port="$(aidlink_postgres_free_port)"
        if aidlink_postgres_as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-p $port -k $dir/socket -c listen_addresses=127.0.0.1 -c max_connections=300 $tls_options" \
            start >/dev/null; then
            export AIDLINK_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres"
            aidlink_postgres_say "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $dir, removed on exit)"
            return 0
        fi
    done
    cat "$dir/server.log" >&2
    return 1
}

aidlink_postgres_stop() {
    local dir="${AIDLINK_POSTGRES_DIR:-}"
    if [ -z "$dir" ]; then
        return 0
    fi
    local bin
    bin="$(aidlink_postgres_bin)"
    if [ -f "$dir/data/postmaster.pid" ]; then
        aidlink_postgres_as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    unset AIDLINK_POSTGRES_DIR AIDLINK_TEST_POSTGRES AIDLINK_TEST_POSTGRES_CA
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    [ "${1:-}" = "--" ] && shift
    aidlink_postgres_start
    if [ "$#" -gt 0 ]; then
        status=0
        "$@" || status=$?
        exit "$status"
    fi
fi
