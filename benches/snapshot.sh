#!/usr/bin/env bash
# Benchmark migsafe snapshots against pg_dump / pg_restore, side by side in one run, on a
# generated database (benches/gen_snapshot_db.sql) in a throwaway cluster.
#
#   benches/snapshot.sh [--scale N] [--runs N] [--jobs N]
#
#   --scale N   multiplies the rows (default 1: 1M orders, 100k customers; 0.1 for a quick run)
#   --runs N    timed runs per command (default 3, after one warm-up run)
#   --jobs N    -j for pg_dump -Fd, pg_restore and migsafe --full (default 2)
#
# Environment knobs (optional):
#   BENCH_SKIP_BUILD=1   use the existing binary instead of `cargo build --release`
#   MIGSAFE_BIN=path     benchmark another binary (implies BENCH_SKIP_BUILD)
#   BENCH_STRICT=1       exit 1 when migsafe is unavailable, fails, or is over budget
#   BENCH_OUT=file       where the JSON results go (default target/bench/snapshot.json)
#
# Budgets (DESIGN.md, issue 6):
#   targeted capture of a dropped column   <= 0.35 x pg_dump -Fc of the database
#   full snapshot                          <= 1.1  x pg_dump -Fd -j N
#   full restore                           <= 1.1  x pg_restore -j N
#   targeted restore of the 1M-row column  <= 0.5  x a full pg_restore -j N of the database
#
# The cluster trusts local connections, so no password is needed; a password, if ever used,
# goes through PGPASSWORD (the environment), never argv.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

SCALE=1
RUNS=3
JOBS=2
while [ $# -gt 0 ]; do
    case "$1" in
        --scale) SCALE=${2:?--scale needs a number}; shift 2 ;;
        --runs) RUNS=${2:?--runs needs a number}; shift 2 ;;
        --jobs) JOBS=${2:?--jobs needs a number}; shift 2 ;;
        -h|--help) sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "error: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ $SCALE =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "error: --scale must be a number" >&2; exit 2; }
[[ $RUNS =~ ^[1-9][0-9]*$ && $JOBS =~ ^[1-9][0-9]*$ ]] || {
    echo "error: --runs and --jobs must be positive integers" >&2; exit 2; }

die() { echo "error: $*" >&2; exit 2; }

# PostgreSQL programs: PATH first, then pg_config, then the newest /usr/lib/postgresql/*/bin.
BIN=
if command -v initdb >/dev/null; then
    BIN=$(dirname "$(readlink -f "$(command -v initdb)")")
elif command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then
    BIN=$(pg_config --bindir)
else
    BIN=$(printf "%s\n" /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
for t in initdb pg_ctl pg_dump pg_restore psql createdb dropdb; do
    [ -x "$BIN/$t" ] || die "$t not found (looked in ${BIN:-PATH}): install the PostgreSQL server package"
done
for t in hyperfine python3; do
    command -v "$t" >/dev/null || die "$t is required (apt install $t)"
done
export PATH="$BIN:$PATH"

OUT=${BENCH_OUT:-$ROOT/target/bench/snapshot.json}
mkdir -p "$(dirname "$OUT")"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/migsafe-snapshot-bench.XXXXXX")
chmod 755 "$WORK"
AS=()
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' OS user to run the server"
    AS=(runuser -u postgres --)
fi
cleanup() {
    "${AS[@]}" "$BIN/pg_ctl" -D "$WORK/data" stop -m immediate >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# migsafe: build it, and find out whether its snapshot commands exist yet.
MIGSAFE=${MIGSAFE_BIN:-$ROOT/target/release/migsafe}
if [ -z "${MIGSAFE_BIN:-}" ] && [ -z "${BENCH_SKIP_BUILD:-}" ]; then
    echo "building migsafe (release)…" >&2
    cargo build --release -q || echo "warning: cargo build --release failed" >&2
fi
HAVE_MIGSAFE=1
if [ ! -x "$MIGSAFE" ] || ! "$MIGSAFE" snapshot create --help >/dev/null 2>&1; then
    echo "warning: $MIGSAFE has no 'snapshot create' command: only the reference tools are timed" >&2
    HAVE_MIGSAFE=
fi

# A throwaway cluster on a free port; settings keep WAL and checkpoints from adding noise
# (both sides run on the same server, so the ratios stay fair).
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
shared_buffers = 512MB
maintenance_work_mem = 256MB
max_wal_size = 8GB
autovacuum = off
CONF
"${AS[@]}" "$BIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w start >/dev/null
export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres
url() { echo "postgres://postgres@127.0.0.1:$PORT/$1"; }

echo "generating the database (scale $SCALE)…" >&2
createdb src
t0=$(date +%s.%N)
psql -X -q -v ON_ERROR_STOP=1 -v scale="$SCALE" -d src -f benches/gen_snapshot_db.sql >/dev/null
psql -X -At -d src -c "SELECT format('generated in %s s: orders %s rows, customers %s rows, database %s',
    round(($(date +%s.%N) - $t0)::numeric, 1), (SELECT count(*) FROM orders),
    (SELECT count(*) FROM customers), pg_size_pretty(pg_database_size('src')))" >&2

# hyperfine runs without a shell (-N); steps that need one are small scripts.
step() {
    local name=$1; shift
    { echo '#!/bin/sh'; echo 'set -e'; printf '%s\n' "$@"; } > "$WORK/$name.sh"
    chmod +x "$WORK/$name.sh"
    echo "$WORK/$name.sh"
}
Q=-q
clone_src() { echo "dropdb --if-exists $1 && createdb -T src $1"; }

RESULTS=$WORK/results
mkdir -p "$RESULTS"
# time NAME PREPARE COMMAND…: hyperfine's median into $RESULTS/NAME.json; a failing command is
# recorded as failed (its output kept in $WORK/NAME.log) and the run goes on.
time_it() {
    local name=$1 prepare=$2; shift 2
    echo "── $name: $*" >&2
    if ! hyperfine -N -w 1 -r "$RUNS" --prepare "$prepare" --export-json "$RESULTS/$name.json" \
        --style basic "$@" >"$WORK/$name.log" 2>&1; then
        echo "   failed; output:" >&2
        tail -n 20 "$WORK/$name.log" | sed 's/^/   /' >&2
        rm -f "$RESULTS/$name.json"
        echo "{\"failed\": true}" > "$RESULTS/$name.failed"
    else
        grep -E 'Time \(mean' "$WORK/$name.log" | sed 's/^ */   /' >&2 || true
    fi
}

# Reference tools.
time_it ref_dump_fc "$(step noop 'true')" \
    "pg_dump -Fc -f $WORK/ref.dump src"
time_it ref_dump_fd "$(step rm_ref_dir "rm -rf $WORK/ref.dir")" \
    "pg_dump -Fd -j $JOBS -f $WORK/ref.dir src"
[ -d "$WORK/ref.dir" ] || pg_dump -Fd -j "$JOBS" -f "$WORK/ref.dir" src
# Restoring into a new database includes creating it, as `migsafe snapshot restore --into` does.
time_it ref_restore "$(step drop_r "dropdb --if-exists ref_restore")" \
    "$(step ref_restore_cmd "createdb ref_restore" "pg_restore -j $JOBS -d ref_restore $WORK/ref.dir")"

# migsafe.
if [ -n "$HAVE_MIGSAFE" ]; then
    time_it mig_targeted "$(step rm_store_t "rm -rf $WORK/store-t")" \
        "$MIGSAFE snapshot create --database-url $(url src) --store $WORK/store-t --table orders.note"
    time_it mig_full "$(step rm_store_f "rm -rf $WORK/store-f")" \
        "$MIGSAFE snapshot create --database-url $(url src) --store $WORK/store-f --full --jobs $JOBS"

    # The snapshots the restores read, taken once.
    id_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
    TID=$("$MIGSAFE" snapshot create --database-url "$(url src)" --store "$WORK/store" \
        --table orders.note --format json | id_of) || TID=
    FID=$("$MIGSAFE" snapshot create --database-url "$(url src)" --store "$WORK/store" \
        --full --jobs "$JOBS" --format json | id_of) || FID=
    if [ -n "$FID" ]; then
        # "Into a new database": migsafe creates it (and refuses an existing one).
        time_it mig_restore "$(step drop_m "dropdb --if-exists mig_restore")" \
            "$MIGSAFE snapshot restore $FID --database-url $(url src) --into mig_restore --store $WORK/store --jobs $JOBS"
    else
        echo "full snapshot for the restore failed" >&2
    fi
    if [ -n "$TID" ]; then
        # A copy of src whose note column was dropped and re-added empty (what a down does).
        time_it mig_targeted_restore "$(step dropped_x "$(clone_src x)" \
            "psql -X $Q -v ON_ERROR_STOP=1 -d x -c 'ALTER TABLE orders DROP COLUMN note' -c 'ALTER TABLE orders ADD COLUMN note text'")" \
            "$MIGSAFE snapshot restore $TID --database-url $(url src) --into x --store $WORK/store"
        # The restore must have put every note back.
        missing=$(psql -X -At -d x -c "SELECT count(*) FROM orders WHERE note IS NULL")
        [ "$missing" = 0 ] || echo "warning: after the targeted restore $missing notes are still NULL" >&2
    else
        echo "targeted snapshot for the restore failed" >&2
    fi
fi

python3 - "$RESULTS" "$OUT" "$SCALE" "$JOBS" "${HAVE_MIGSAFE:-}" "${BENCH_STRICT:-}" <<'PY'
import json, os, statistics, sys
results, out, scale, jobs, have, strict = sys.argv[1:]

def med(name):
    p = os.path.join(results, name + ".json")
    if not os.path.exists(p):
        return None
    r = json.load(open(p))["results"][0]
    return statistics.median(r["times"])

rows = [
    ("targeted capture of orders.note", f"pg_dump -Fc", "ref_dump_fc", "mig_targeted", 0.35),
    (f"full snapshot", f"pg_dump -Fd -j{jobs}", "ref_dump_fd", "mig_full", 1.1),
    (f"full restore", f"pg_restore -j{jobs}", "ref_restore", "mig_restore", 1.1),
    ("targeted restore of orders.note", f"pg_restore -j{jobs}", "ref_restore", "mig_targeted_restore", 0.5),
]
fmt = lambda s: "—" if s is None else f"{s:.2f} s"
table, data, bad = [], {"scale": float(scale), "jobs": int(jobs), "operations": []}, False
for op, ref_name, ref, mig, budget in rows:
    r, m = med(ref), med(mig)
    ratio = m / r if (r and m) else None
    if ratio is None:
        verdict = "n/a" if not have else "FAILED"
        bad = True
    else:
        verdict = "pass" if ratio <= budget else "FAIL"
        bad |= ratio > budget
    table.append((op, f"{ref_name} {fmt(r)}", fmt(m), "—" if ratio is None else f"{ratio:.2f}",
                  f"≤ {budget}", verdict))
    data["operations"].append({"operation": op, "reference": ref_name, "reference_s": r,
                               "migsafe_s": m, "ratio": ratio, "budget": budget, "verdict": verdict})
head = ("operation", "reference", "migsafe", "ratio", "budget", "result")
w = [max(len(str(x[i])) for x in table + [head]) for i in range(len(head))]
line = lambda x: "| " + " | ".join(str(c).ljust(w[i]) for i, c in enumerate(x)) + " |"
print(line(head))
print("|" + "|".join("-" * (n + 2) for n in w) + "|")
for t in table:
    print(line(t))
json.dump(data, open(out, "w"), indent=2)
print(f"\n(medians; results in {out})")
sys.exit(1 if strict and bad else 0)
PY
