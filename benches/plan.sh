#!/usr/bin/env bash
# Benchmark `migsafe plan` in a throwaway cluster:
#
#   (a) one target, a generated sqlx project of 1,000 migrations (30 % irreversible, every one
#       with a down), 990 of them applied for real: plan's wall time, the connection time
#       measured inside migsafe, and "plan after connecting" (budget: < 300 ms, DESIGN.md);
#   (b) 50 targets (50 databases in the same cluster, each a copy of (a)'s), `plan --all`,
#       probed concurrently (at most 8 at a time).
#
#   benches/plan.sh [--runs N] [--targets N] [--migrations N]
#
#   --runs N        timed runs per command (default 10, after two warm-up runs)
#   --targets N     databases for (b) (default 50)
#   --migrations N  migrations in the project (default 1000; the last 10 are pending)
#
# Environment knobs (optional):
#   BENCH_SKIP_BUILD=1   use the existing binary instead of `cargo build --release`
#   MIGSAFE_BIN=path     benchmark another binary (implies BENCH_SKIP_BUILD)
#   BENCH_STRICT=1       exit 1 when plan after connecting is over budget
#   BENCH_OUT=file       where the JSON results go (default target/bench/plan.json)
#
# The connection time comes from migsafe itself: with MIGSAFE_PLAN_TIMINGS=1 plan prints its
# phases on stderr (config+lint, probes with the slowest connect and read, gates+output).
# "After connecting" = wall time − the connect phase, per run, medians reported.
#
# The cluster trusts local connections, so no password is needed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

RUNS=10
NTARGETS=50
NMIG=1000
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS=${2:?--runs needs a number}; shift 2 ;;
        --targets) NTARGETS=${2:?--targets needs a number}; shift 2 ;;
        --migrations) NMIG=${2:?--migrations needs a number}; shift 2 ;;
        -h|--help) sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "error: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ $RUNS =~ ^[1-9][0-9]*$ && $NTARGETS =~ ^[1-9][0-9]*$ && $NMIG =~ ^[1-9][0-9]+$ ]] || {
    echo "error: --runs, --targets and --migrations must be positive integers" >&2; exit 2; }
[ "$NMIG" -ge 20 ] || { echo "error: --migrations must be at least 20" >&2; exit 2; }

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
for t in initdb pg_ctl psql createdb; do
    [ -x "$BIN/$t" ] || die "$t not found (looked in ${BIN:-PATH}): install the PostgreSQL server package"
done
for t in hyperfine python3; do
    command -v "$t" >/dev/null || die "$t is required (apt install $t)"
done
export PATH="$BIN:$PATH"

OUT=${BENCH_OUT:-$ROOT/target/bench/plan.json}
mkdir -p "$(dirname "$OUT")"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/migsafe-plan-bench.XXXXXX")
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

MIGSAFE=${MIGSAFE_BIN:-$ROOT/target/release/migsafe}
if [ -z "${MIGSAFE_BIN:-}" ] && [ -z "${BENCH_SKIP_BUILD:-}" ]; then
    echo "building migsafe (release)…" >&2
    cargo build --release -q
fi
[ -x "$MIGSAFE" ] && "$MIGSAFE" plan --help >/dev/null 2>&1 || die "$MIGSAFE has no 'plan' command"

# A throwaway cluster on a free port, configured like the other benchmarks.
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
autovacuum = off
max_connections = 200
CONF
"${AS[@]}" "$BIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w start >/dev/null
export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres
url() { echo "postgres://postgres@127.0.0.1:$PORT/$1?sslmode=disable"; }

# The project: sqlx layout, groups of ten migrations per table:
#   0 CREATE TABLE (1,000 rows)    1 ADD COLUMN        2 CREATE INDEX     3 DROP COLUMN (irreversible)
#   4 UPDATE … WHERE (irreversible) 5 COMMENT ON        6 CREATE VIEW      7 CHECK … NOT VALID
#   8 DELETE … WHERE (irreversible) 9 ALTER COLUMN SET DEFAULT
# The last group (the pending one) works on the previous group's table, so its estimates read
# real statistics. apply.sql runs every applied up; history.sql records them for sqlx.
echo "generating $NMIG migrations…" >&2
PROJ=$WORK/project
mkdir -p "$PROJ/migrations"
python3 - "$PROJ" "$NMIG" <<'PY'
import hashlib, os, sys
proj, n = sys.argv[1], int(sys.argv[2])
applied = n - 10
mig = os.path.join(proj, "migrations")
apply, history = [], []
last_group = (n - 1) // 10
for i in range(n):
    g = i // 10
    t = f"t{g}" if g < last_group else f"t{last_group - 1}"
    k = i % 10
    if k == 0 and g < last_group:
        up = (f"CREATE TABLE {t} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, a text NOT NULL,\n"
              f"    b integer NOT NULL, c text, c2 text, created_at timestamptz NOT NULL DEFAULT now());\n"
              f"INSERT INTO {t} (a, b, c, c2) SELECT 'name ' || x, x, md5(x::text), md5((x * 7)::text)\n"
              f"    FROM generate_series(1, 1000) x;\n")
        down = f"DROP TABLE {t};\n"
        name = f"create_{t}"
    elif k == 0:
        up, down, name = f"ALTER TABLE {t} ADD COLUMN e{i} integer;\n", f"ALTER TABLE {t} DROP COLUMN e{i};\n", f"add_e{i}"
    elif k == 1:
        up, down, name = f"ALTER TABLE {t} ADD COLUMN d{i} text DEFAULT 'z';\n", f"ALTER TABLE {t} DROP COLUMN d{i};\n", f"add_d{i}"
    elif k == 2:
        up, down, name = f"CREATE INDEX {t}_b_{i} ON {t} (b);\n", f"DROP INDEX {t}_b_{i};\n", f"index_{t}_{i}"
    elif k == 3:
        col = "c" if g < last_group else "c2"
        up = f"-- no longer read\nALTER TABLE {t} DROP COLUMN {col};\n"
        down, name = f"ALTER TABLE {t} ADD COLUMN {col} text;\n", f"drop_{t}_{col}"
    elif k == 4:
        up = f"UPDATE {t} SET a = upper(a) WHERE b > {500 + i % 7};\n"
        down, name = "SELECT 1; -- values cannot be restored by a down\n", f"upper_{t}_{i}"
    elif k == 5:
        up, down, name = f"COMMENT ON TABLE {t} IS 'table {i}';\n", f"COMMENT ON TABLE {t} IS NULL;\n", f"comment_{i}"
    elif k == 6:
        up, down, name = f"CREATE VIEW v{i} AS SELECT id, a FROM {t};\n", f"DROP VIEW v{i};\n", f"view_{i}"
    elif k == 7:
        up = f"ALTER TABLE {t} ADD CONSTRAINT {t}_chk_{i} CHECK (b >= 0) NOT VALID;\n"
        down, name = f"ALTER TABLE {t} DROP CONSTRAINT {t}_chk_{i};\n", f"check_{i}"
    elif k == 8:
        up = f"DELETE FROM {t} WHERE b < {3 + i % 5};\n"
        down, name = "SELECT 1; -- deleted rows cannot be restored by a down\n", f"delete_{t}_{i}"
    else:
        up = f"ALTER TABLE {t} ALTER COLUMN b SET DEFAULT {i};\n"
        down, name = f"ALTER TABLE {t} ALTER COLUMN b DROP DEFAULT;\n", f"default_{i}"
    version = 20250101000000 + i
    base = f"{version}_{name}"
    with open(os.path.join(mig, base + ".up.sql"), "w") as f:
        f.write(up)
    with open(os.path.join(mig, base + ".down.sql"), "w") as f:
        f.write(down)
    if i < applied:
        apply.append(up)
        desc = name.replace("_", " ")
        history.append(f"({version}, '{desc}', true, '\\x{hashlib.sha384(up.encode()).hexdigest()}', 1)")
with open(os.path.join(proj, "apply.sql"), "w") as f:
    f.write("".join(apply))
    f.write("""CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL,
  installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), success BOOLEAN NOT NULL,
  checksum BYTEA NOT NULL, execution_time BIGINT NOT NULL);
INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES
""" + ",\n".join(history) + ";\nANALYZE;\n")
PY

echo "applying $((NMIG - 10)) migrations to the template database…" >&2
createdb tmpl
t0=$(date +%s.%N)
psql -X -q -v ON_ERROR_STOP=1 -d tmpl -f "$PROJ/apply.sql" >/dev/null
echo "   applied in $(python3 -c "print(round($(date +%s.%N) - $t0, 1))") s" >&2
echo "creating $NTARGETS target databases…" >&2
for i in $(seq 1 "$NTARGETS"); do createdb -T tmpl "acct$i"; done

{
    echo 'runner = "sqlx"'
    echo 'migrations_dir = "migrations"'
    echo 'waves = ["all"]'
    echo
    echo '[snapshots]'
    echo "store = \"$WORK/store\""
    for i in $(seq 1 "$NTARGETS"); do
        printf '\n[[targets]]\nname = "acct%s"\nurl = "%s"\nwave = "all"\n' "$i" "$(url "acct$i")"
    done
} > "$PROJ/migsafe.toml"

# Sanity: one plan, JSON, 10 pending with estimates.
(cd "$PROJ" && "$MIGSAFE" plan --target acct1 --format json > "$WORK/plan1.json") || [ $? = 1 ] ||
    die "plan failed: $(cd "$PROJ" && "$MIGSAFE" plan --target acct1 2>&1 | tail -5)"
python3 - "$WORK/plan1.json" <<'PY' >&2
import json, sys
d = json.load(open(sys.argv[1]))
t = d["targets"][0]
irr = [m for m in t["pending"] if m["reversibility"] == "irreversible"]
print(f"   acct1: {t['applied']} applied, {len(t['pending'])} pending ({len(irr)} irreversible), "
      f"snapshots ≈ {t['snapshot_bytes']} bytes, problems: {[p['message'] for p in t['problems']] or 'none'}")
assert len(t["pending"]) == 10 and not t["problems"], t
assert all(m["snapshot_estimate"]["bytes"] > 0 for m in irr), irr
PY

RESULTS=$WORK/results
mkdir -p "$RESULTS"
# hyperfine: wall time; exit code 1 (blocked: no receipts) is expected, so -i.
time_it() {
    local name=$1; shift
    echo "── $name: $*" >&2
    (cd "$PROJ" && hyperfine -N -i -w 2 -r "$RUNS" --export-json "$RESULTS/$name.json" \
        --style basic "$@" >"$WORK/$name.log" 2>&1) || { tail -n 20 "$WORK/$name.log" >&2; die "$name failed"; }
    grep -E 'Time \(mean' "$WORK/$name.log" | sed 's/^ */   /' >&2 || true
}
# The phases, from migsafe itself, over as many runs.
phases() {
    local name=$1; shift
    for _ in $(seq 1 "$RUNS"); do
        (cd "$PROJ" && MIGSAFE_PLAN_TIMINGS=1 "$@" 2>&1 >/dev/null | grep '^plan timings:') || true
    done > "$RESULTS/$name.phases"
}

time_it one "$MIGSAFE plan --target acct1 --format json"
phases one "$MIGSAFE" plan --target acct1 --format json
time_it all "$MIGSAFE plan --all --format json"
phases all "$MIGSAFE" plan --all --format json

python3 - "$RESULTS" "$OUT" "$NMIG" "$NTARGETS" "${BENCH_STRICT:-}" <<'PY'
import json, os, re, statistics, sys
results, out, nmig, ntargets, strict = sys.argv[1:]
def wall(name):
    return statistics.median(json.load(open(os.path.join(results, name + ".json")))["results"][0]["times"]) * 1000
def phases(name):
    rows = []
    for line in open(os.path.join(results, name + ".phases")):
        nums = [float(x) for x in re.findall(r"([0-9.]+) ms", line)]
        rows.append(dict(zip(["total", "lint", "probes", "connect", "read", "rest"], nums)))
    return {k: statistics.median(r[k] for r in rows) for k in rows[0]} if rows else {}
one, allp = phases("one"), phases("all")
w1, wall_all = wall("one"), wall("all")
after = w1 - one.get("connect", 0)
data = {
    "migrations": int(nmig), "targets": int(ntargets),
    "one_target": {"wall_ms": w1, "phases_ms": one, "after_connecting_ms": after, "budget_ms": 300},
    "all_targets": {"wall_ms": wall_all, "phases_ms": allp},
}
json.dump(data, open(out, "w"), indent=2)
print(f"| measure | median |")
print(f"|---|---|")
print(f"| (a) plan, {nmig} migrations, 1 target: wall | {w1:.1f} ms |")
print(f"|     config + lint of the project (in-process) | {one.get('lint', 0):.1f} ms |")
print(f"|     connect (in-process) | {one.get('connect', 0):.1f} ms |")
print(f"|     read: history, ledger, estimates (in-process) | {one.get('read', 0):.1f} ms |")
print(f"|     **plan after connecting** (wall − connect; budget < 300 ms) | **{after:.1f} ms** |")
print(f"| (b) plan --all, {ntargets} targets: wall | {wall_all:.1f} ms |")
print(f"|     probes of all targets (in-process) | {allp.get('probes', 0):.1f} ms |")
print(f"|     slowest connect / slowest read (in-process) | {allp.get('connect', 0):.1f} / {allp.get('read', 0):.1f} ms |")
print(f"\n(results in {out})")
sys.exit(1 if strict and after >= 300 else 0)
PY
