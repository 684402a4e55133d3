# Sourced by the benchmark scripts: a throwaway PostgreSQL cluster in $WORK, configured like
# migsafe's scratch cluster (loopback, trust, no fsync), stopped and removed on exit.
#
#   WORK=$(mktemp -d …); . benches/cluster.sh
#
# Sets BIN (the server's bin directory), PORT, URL (to database postgres) and exports PGHOST,
# PGPORT and PGUSER for psql, pg_dump and pg_restore. As root, the server runs as `postgres`.
# CLUSTER_CONF, when set, is appended to postgresql.conf before the server starts.
chmod 755 "$WORK"
BIN=$(dirname "$(readlink -f "$(command -v initdb || echo "$(pg_config --bindir)/initdb")")")
AS=()
if [ "$(id -u)" = 0 ]; then AS=(runuser -u postgres --); fi
cleanup() {
    "${AS[@]}" "$BIN/pg_ctl" -D "$WORK/data" stop -m immediate >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if [ "$(id -u)" = 0 ]; then chown postgres "$WORK"; fi
"${AS[@]}" "$BIN/initdb" -D "$WORK/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >/dev/null
cat >> "$WORK/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$WORK'
fsync = off
full_page_writes = off
synchronous_commit = off
${CLUSTER_CONF:-}
CONF
"${AS[@]}" "$BIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w start >/dev/null
URL="postgres://postgres@127.0.0.1:$PORT/postgres"
export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres
