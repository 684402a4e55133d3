#!/usr/bin/env bash
# Benchmark `migsafe lint` against squawk, in one run, on:
#  - a generated ~5,900-statement PostgreSQL migration corpus in one file;
#  - a generated diesel project of ~700 migrations (~5,000 up statements):
#    squawk on every up.sql, migsafe on the project directory;
#  - renderer linearity: a 50,000-UPDATE file (one finding each) in every
#    --format, each against --format json (budget: < 2x);
#  - `lint --since`: the diesel project committed in a git repository, a
#    branch adding one migration (and one editing an applied migration),
#    `--since HEAD~1` against a full lint of the same checkout (budget: <= 1.2x).
# Run from anywhere; paths are repo-relative.
#
#   benches/lint.sh
#
# Environment knobs (all optional):
#   BENCH_RUNS=10          timed runs per command (minimum 10)
#   BENCH_WARMUP=2         untimed warm-up runs per command
#   BENCH_TIMER=auto       auto | hyperfine | python
#   BENCH_NO_INSTALL=1     never apt-get install anything (hyperfine, time)
#   BENCH_SKIP_BUILD=1     use the existing target/release/migsafe as is
#   BENCH_STRICT=1         exit 1 when migsafe is unavailable or over budget
#   BENCH_BASELINE=json    squawk run the ratios are taken against:
#                          json    = `squawk --reporter json` (like-for-like
#                                    with `migsafe lint --format json`)
#                          default = `squawk FILE` (default tty reporter)
#                          Both are always measured and reported.
#   SQUAWK_VERSION=x.y.z   pin squawk-cli (default: latest from PyPI, once)
#   MIGSAFE_BIN=path       benchmark this binary instead (implies no build)
#   BENCH_EXAMPLES_DIR=dir directory whose subdirectories are linted
#                          (default: migrations-examples)
#   BENCH_ONLY=since       only the `--since` measurements (no squawk needed)
#
# Output: a table on stdout and the same data in target/bench/lint.json.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

BENCH_DIR=target/bench
VENV=$BENCH_DIR/venv
SQUAWK=$VENV/bin/squawk
CORPUS=$BENCH_DIR/corpus.sql
PROJECT=$BENCH_DIR/diesel-project
UPDATES=$BENCH_DIR/updates-50k.sql
UPDATES_N=50000
MIGSAFE=${MIGSAFE_BIN:-target/release/migsafe}
EXAMPLES_DIR=${BENCH_EXAMPLES_DIR:-migrations-examples}
BASELINE=${BENCH_BASELINE:-json}
case "$BASELINE" in
    json|default) ;;
    *) echo "error: BENCH_BASELINE must be json or default" >&2; exit 2 ;;
esac
OUT_JSON=$BENCH_DIR/lint.json
RUNS=${BENCH_RUNS:-10}
WARMUP=${BENCH_WARMUP:-2}
TIMER=${BENCH_TIMER:-auto}
TIME_BUDGET=0.5   # migsafe median wall time / squawk median wall time
FORMAT_BUDGET=2.0 # any --format / --format json, on the 50k-UPDATE file
MEM_BUDGET=1.0    # migsafe peak RSS / squawk peak RSS
SINCE_BUDGET=1.2  # `lint --since` / full lint of the same project
ONLY=${BENCH_ONLY:-}
case "$ONLY" in
    ""|since) ;;
    *) echo "error: BENCH_ONLY must be unset or since" >&2; exit 2 ;;
esac
SINCE_REPO=$BENCH_DIR/since-repo

if [ "$RUNS" -lt 10 ]; then
    echo "BENCH_RUNS=$RUNS raised to 10 (the minimum)" >&2
    RUNS=10
fi

mkdir -p "$BENCH_DIR"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/migsafe-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }

# --------------------------------------------------------------------------
# Python helper: times one command, records wall time and peak RSS per run.
#  - wall time: hyperfine when available, else a perf_counter loop over bare
#    runs of the command;
#  - peak RSS: separate runs under GNU time (`/usr/bin/time -f %M`, KiB).
#    Without GNU time it falls back to os.wait4's ru_maxrss, which on Linux
#    also counts the forking Python process (~14 MB floor); that floor is
#    measured with `true` and recorded next to the numbers.
# --------------------------------------------------------------------------
cat > "$WORK/measure.py" <<'PY'
import json, os, shutil, statistics, subprocess, sys, tempfile, time

def bare_run(cmd):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    return wall, ru.ru_maxrss, p.returncode

def gnu_time_run(time_bin, cmd):
    fd, path = tempfile.mkstemp(prefix="rss.")
    os.close(fd)
    try:
        rc = subprocess.call([time_bin, "-o", path, "-f", "%M"] + cmd,
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        lines = [l for l in open(path).read().splitlines() if l.strip()]
        return int(lines[-1]), rc
    finally:
        os.unlink(path)

def main():
    out, label, runs, warmup, ok, timer, rss_tool = sys.argv[1:8]
    cmd = sys.argv[9:]  # argv[8] == "--"
    runs, warmup = int(runs), int(warmup)
    ok = {int(x) for x in ok.split(",")}
    res = {"label": label, "command": " ".join(cmd), "runs": runs,
           "warmup": warmup}
    codes = []
    # wall time
    if timer == "hyperfine":
        hf_json = os.path.join(os.path.dirname(out),
                               "hf-" + os.path.basename(out))
        hf = [shutil.which("hyperfine"), "--runs", str(runs),
              "--warmup", str(warmup), "--ignore-failure", "--shell=none",
              "--style", "none", "--export-json", hf_json,
              " ".join(cmd)]
        p = subprocess.run(hf, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if p.returncode != 0:
            sys.stderr.write(p.stdout)
            sys.exit("hyperfine failed (exit %d)" % p.returncode)
        with open(hf_json) as f:
            r = json.load(f)["results"][0]
        walls = [t * 1000.0 for t in r["times"]]
        codes += [int(c) for c in r.get("exit_codes", []) if c is not None]
    else:
        for _ in range(warmup):
            bare_run(cmd)
        walls, wait4_rss = [], []
        for _ in range(runs):
            w, m, c = bare_run(cmd)
            walls.append(w * 1000.0)
            wait4_rss.append(m)
            codes.append(c)
    # peak RSS
    if rss_tool == "wait4":
        if timer == "hyperfine":
            wait4_rss = []
            for _ in range(runs):
                _, m, c = bare_run(cmd)
                wait4_rss.append(m)
                codes.append(c)
        rss = wait4_rss
        res["rss_method"] = "os.wait4 ru_maxrss (includes the Python parent)"
        res["rss_floor_kib"] = bare_run(["true"])[1]
    else:
        rss = []
        for _ in range(runs):
            m, c = gnu_time_run(rss_tool, cmd)
            rss.append(m)
            codes.append(c)
        res["rss_method"] = "%s -f %%M" % rss_tool
        res["rss_floor_kib"] = gnu_time_run(rss_tool, ["true"])[0]
    bad = sorted({c for c in codes if c not in ok})
    if bad:
        res["error"] = "unexpected exit code(s) %s" % bad
    res["exit_codes"] = sorted(set(codes))
    res["timer"] = timer
    res["wall_ms"] = walls
    res["median_ms"] = statistics.median(walls)
    res["mean_ms"] = statistics.fmean(walls)
    res["min_ms"] = min(walls)
    res["max_ms"] = max(walls)
    res["stddev_ms"] = statistics.stdev(walls) if len(walls) > 1 else 0.0
    res["rss_kib"] = rss
    res["peak_rss_kib"] = max(rss)
    res["median_rss_kib"] = statistics.median(rss)
    with open(out, "w") as f:
        json.dump(res, f, indent=2)
    print("    %-28s median %8.1f ms  (min %.1f, max %.1f)  peak RSS %7.1f MB%s"
          % (label, res["median_ms"], res["min_ms"], res["max_ms"],
             res["peak_rss_kib"] / 1024.0,
             ("  ** " + res["error"]) if "error" in res else ""),
          file=sys.stderr)

main()
PY

measure() {  # measure OUT_JSON LABEL OK_CODES -- cmd...
    local out=$1 label=$2 ok=$3
    shift 3
    python3 "$WORK/measure.py" "$out" "$label" "$RUNS" "$WARMUP" "$ok" "$TIMER" "$RSS_TOOL" "$@"
}

# --------------------------------------------------------------------------
# 1. squawk in a private virtualenv
# --------------------------------------------------------------------------
if [ "$ONLY" = since ]; then
    log "BENCH_ONLY=since: squawk is not needed"
elif [ ! -x "$SQUAWK" ]; then
    log "creating $VENV and installing squawk-cli${SQUAWK_VERSION:+==$SQUAWK_VERSION}"
    if [ ! -x "$VENV/bin/pip" ]; then
        rm -rf "$VENV"
        python3 -m venv "$VENV" || {
            echo "error: 'python3 -m venv' failed (on Debian: apt-get install python3-venv)" >&2
            exit 1
        }
    fi
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        "squawk-cli${SQUAWK_VERSION:+==$SQUAWK_VERSION}" || {
        echo "error: pip install squawk-cli failed; squawk is the baseline, cannot continue" >&2
        exit 1
    }
fi
if [ "$ONLY" != since ]; then
    SQUAWK_VERSION_STR=$("$SQUAWK" --version 2>&1 | head -n1)
    SQUAWK_VER=${SQUAWK_VERSION_STR##* }
    log "baseline: $SQUAWK_VERSION_STR"
fi

# --------------------------------------------------------------------------
# 2. corpus
# --------------------------------------------------------------------------
log "generating $PROJECT"
PROJECT_OUT=$(python3 benches/gen_diesel.py "$PROJECT")
echo "    $PROJECT_OUT" >&2
if [ "$ONLY" != since ]; then
    log "generating $CORPUS"
    GEN_OUT=$(python3 benches/gen_corpus.py "$CORPUS")
    echo "    $GEN_OUT" >&2
    # Renderer linearity: one statement and one finding (MS008, an UPDATE of a table
    # that existed before the migration) per line, 50,000 of them.
    log "generating $UPDATES"
    python3 - "$UPDATES" "$UPDATES_N" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    for i in range(1, n + 1):
        f.write("UPDATE accounts SET balance_cents = %d WHERE id = %d;\n" % (i % 977, i))
PY
fi

# --------------------------------------------------------------------------
# 3. timer: hyperfine if present (or installable with apt-get), else python
# --------------------------------------------------------------------------
have_apt() {
    command -v apt-get >/dev/null 2>&1 || return 1
    if [ "$(id -u)" -eq 0 ]; then APT=(apt-get); return 0; fi
    command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null && { APT=(sudo -n apt-get); return 0; }
    return 1
}
if [ "$TIMER" = auto ] || [ "$TIMER" = hyperfine ]; then
    if ! command -v hyperfine >/dev/null 2>&1 && [ "${BENCH_NO_INSTALL:-0}" != 1 ] && have_apt; then
        log "hyperfine missing; trying apt-get install hyperfine"
        export DEBIAN_FRONTEND=noninteractive
        "${APT[@]}" install -y -qq hyperfine >/dev/null 2>&1 ||
            { "${APT[@]}" update -qq >/dev/null 2>&1 &&
              "${APT[@]}" install -y -qq hyperfine >/dev/null 2>&1; } ||
            warn "apt-get install hyperfine failed; using the python timing loop"
    fi
    if command -v hyperfine >/dev/null 2>&1; then
        TIMER=hyperfine
    elif [ "$TIMER" = hyperfine ]; then
        echo "error: BENCH_TIMER=hyperfine but hyperfine is not available" >&2
        exit 1
    else
        TIMER=python
    fi
fi
# peak RSS: GNU time, installed with apt-get (package `time`) if missing
gnu_time_ok() { [ -x /usr/bin/time ] && /usr/bin/time -f %M true >/dev/null 2>&1; }
if ! gnu_time_ok && [ "${BENCH_NO_INSTALL:-0}" != 1 ] && have_apt; then
    log "/usr/bin/time missing; trying apt-get install time"
    export DEBIAN_FRONTEND=noninteractive
    "${APT[@]}" install -y -qq time >/dev/null 2>&1 ||
        { "${APT[@]}" update -qq >/dev/null 2>&1 &&
          "${APT[@]}" install -y -qq time >/dev/null 2>&1; } ||
        warn "apt-get install time failed"
fi
if gnu_time_ok; then
    RSS_TOOL=/usr/bin/time
    RSS_DESC="GNU time %M (RSS)"
else
    RSS_TOOL=wait4
    RSS_DESC="python os.wait4 (RSS, includes a ~14 MB python floor)"
    warn "GNU time unavailable: peak RSS from os.wait4 includes the forking python process"
fi
if [ "$TIMER" = hyperfine ]; then
    TIMER_DESC="hyperfine $(hyperfine --version | awk '{print $2}') (wall) + $RSS_DESC"
else
    TIMER_DESC="python perf_counter loop (wall) + $RSS_DESC"
fi
log "timer: $TIMER_DESC; $RUNS runs after $WARMUP warm-up"

# --------------------------------------------------------------------------
# 4. migsafe: build and check that `lint` works, tolerating an unfinished CLI
# --------------------------------------------------------------------------
MIGSAFE_OK=1
MIGSAFE_REASON=""
if [ -n "${MIGSAFE_BIN:-}" ]; then
    log "MIGSAFE_BIN=$MIGSAFE_BIN: not building"
elif [ "${BENCH_SKIP_BUILD:-0}" = 1 ]; then
    log "BENCH_SKIP_BUILD=1: not building"
else
    log "cargo build --release (log: $BENCH_DIR/cargo-build.log)"
    if ! cargo build --release >"$BENCH_DIR/cargo-build.log" 2>&1; then
        MIGSAFE_OK=0
        MIGSAFE_REASON="cargo build --release failed (see $BENCH_DIR/cargo-build.log)"
        tail -n 15 "$BENCH_DIR/cargo-build.log" | sed 's/^/    | /' >&2
    fi
fi
if [ "$MIGSAFE_OK" = 1 ] && [ ! -x "$MIGSAFE" ]; then
    MIGSAFE_OK=0
    MIGSAFE_REASON="$MIGSAFE does not exist"
fi
if [ "$MIGSAFE_OK" = 1 ] && [ "$ONLY" != since ]; then
    set +e
    "$MIGSAFE" lint --format json "$CORPUS" >"$WORK/probe.out" 2>"$WORK/probe.err" </dev/null
    rc=$?
    set -e
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
        MIGSAFE_OK=0
        MIGSAFE_REASON="'migsafe lint --format json' exited $rc: $(head -c 300 "$WORK/probe.err" | tr '\n' ' ')"
    elif ! python3 - "$WORK/probe.out" 2>"$WORK/probe.why" <<'PY'
import json, sys
text = open(sys.argv[1], encoding="utf-8", errors="replace").read().strip()
if not text:
    sys.exit("empty output")
try:
    json.loads(text)
except ValueError:
    try:
        for line in text.splitlines():
            if line.strip():
                json.loads(line)
    except ValueError as e:
        sys.exit("not JSON: %s" % e)
PY
    then
        MIGSAFE_OK=0
        MIGSAFE_REASON="'migsafe lint --format json' (exit $rc) printed no JSON findings ($(head -c 120 "$WORK/probe.why" | tr '\n' ' ' | sed 's/ *$//')); is 'lint' implemented yet?"
    fi
fi
MIGSAFE_VERSION_STR=""
if [ -x "$MIGSAFE" ]; then
    MIGSAFE_VERSION_STR=$("$MIGSAFE" --version 2>/dev/null </dev/null | head -n1 || true)
fi
if [ -n "$MIGSAFE_VERSION_STR" ]; then
    MIGSAFE_VER=${MIGSAFE_VERSION_STR##* }
else
    MIGSAFE_VER="$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n1) (Cargo.toml)"
fi
GIT_REV=$(git rev-parse --short HEAD 2>/dev/null || echo none)
if [ -n "$(git status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null)" ]; then
    GIT_REV="$GIT_REV+dirty"
fi
if [ "$MIGSAFE_OK" = 1 ] && [ "$ONLY" = since ]; then
    log "migsafe $MIGSAFE_VER ($GIT_REV)"
elif [ "$MIGSAFE_OK" = 1 ]; then
    log "migsafe $MIGSAFE_VER ($GIT_REV) lints the corpus"
else
    echo >&2
    echo "!! migsafe is not benchmarkable yet: $MIGSAFE_REASON" >&2
    echo "!! reporting squawk numbers only" >&2
    echo >&2
fi

# --------------------------------------------------------------------------
# 5a. `lint --since`: the 700-migration project in a git repository, on a
#     branch one commit ahead of its base. A full lint of the same checkout is
#     the yardstick: --since lints only what changed but reads the base too.
# --------------------------------------------------------------------------
since_git() {
    git -C "$SINCE_REPO" -c user.name=bench -c user.email=bench@localhost \
        -c commit.gpgsign=false "$@"
}
since_measurements() {
    rm -rf "$SINCE_REPO"
    mkdir -p "$SINCE_REPO"
    cp -R "$PROJECT"/. "$SINCE_REPO"/
    GIT_CONFIG_GLOBAL=/dev/null since_git init -q -b main
    since_git add -A
    since_git commit -q -m "700 migrations"
    # A branch that adds one migration, after every other one.
    since_git checkout -q -b add-one
    local new="$SINCE_REPO/migrations/2099-01-01-000000_bench_since"
    mkdir -p "$new"
    printf 'CREATE TABLE bench_since (id bigint PRIMARY KEY, note text);\nCREATE INDEX bench_since_note ON bench_since (note);\n' >"$new/up.sql"
    printf 'DROP TABLE bench_since;\n' >"$new/down.sql"
    since_git add -A
    since_git commit -q -m "one more migration"
    log "timing lint --since HEAD~1 (one migration added) against a full lint, $SINCE_REPO"
    measure "$WORK/since-full.json" "migsafe full lint (git)" 0,1 -- \
        "$MIGSAFE" lint --format json "$SINCE_REPO"
    measure "$WORK/since-add.json" "migsafe --since, 1 added" 0,1 -- \
        "$MIGSAFE" lint --format json --since HEAD~1 "$SINCE_REPO"
    # A branch that edits a statement of an applied migration (its base is read
    # from git, not from the working tree).
    since_git checkout -q -b edit-one main
    local old
    old=$(find "$SINCE_REPO/migrations" -name up.sql | LC_ALL=C sort | sed -n 350p)
    printf '\nCREATE TABLE bench_edit (id bigint);\n' >>"$old"
    since_git commit -q -am "edit an applied migration"
    log "timing lint --since HEAD~1 (one applied migration edited)"
    measure "$WORK/since-edit.json" "migsafe --since, 1 edited" 0,1 -- \
        "$MIGSAFE" lint --format json --since HEAD~1 "$SINCE_REPO"
}
since_report() {
    python3 - "$WORK" "$SINCE_BUDGET" "$@" <<'PY'
import json, os, sys
work, budget = sys.argv[1], float(sys.argv[2])
out = sys.argv[3] if len(sys.argv) > 3 else None
load = lambda n: json.load(open(os.path.join(work, n)))
full = load("since-full.json")
res = {"budget_ratio_max": budget, "full": full}
print()
print("lint --since on the 700-migration project in git (budget <= %.2f x full lint)" % budget)
print("  full lint                  median %8.1f ms" % full["median_ms"])
ok = True
for key, label in (("add", "--since, 1 migration added"), ("edit", "--since, 1 applied edited")):
    r = load("since-%s.json" % key)
    ratio = r["median_ms"] / full["median_ms"]
    good = ratio <= budget and "error" not in r
    ok = ok and good
    res[key] = dict(r, ratio=round(ratio, 4), ok=good)
    print("  %-26s median %8.1f ms  x%.2f  %s" % (
        label, r["median_ms"], ratio, "ok" if good else "OVER BUDGET"))
res["ok"] = ok
if out:
    doc = json.load(open(out))
    doc["since"] = res
    with open(out, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
else:
    with open("target/bench/since.json", "w") as f:
        json.dump(res, f, indent=2)
        f.write("\n")
    print("wrote target/bench/since.json")
sys.exit(0 if ok or os.environ.get("BENCH_STRICT", "0") != "1" else 1)
PY
}
if [ "$ONLY" = since ]; then
    if [ "$MIGSAFE_OK" != 1 ]; then
        echo "error: $MIGSAFE_REASON" >&2
        exit 1
    fi
    since_measurements
    since_report
    exit 0
fi

# --------------------------------------------------------------------------
# 5. measurements
# --------------------------------------------------------------------------
log "timing the corpus"
measure "$WORK/squawk-json.json" "squawk --reporter json" 0,1 -- \
    "$SQUAWK" --reporter json "$CORPUS"
measure "$WORK/squawk-default.json" "squawk (default reporter)" 0,1 -- \
    "$SQUAWK" "$CORPUS"
if [ "$MIGSAFE_OK" = 1 ]; then
    measure "$WORK/migsafe.json" "migsafe corpus" 0,1 -- \
        "$MIGSAFE" lint --format json "$CORPUS"
    # The CI formats render the same findings; each should cost no more than JSON.
    for fmt in human github sarif gitlab rdjson; do
        measure "$WORK/format-$fmt.json" "migsafe lint --format $fmt" 0,1 -- \
            "$MIGSAFE" lint --format "$fmt" "$CORPUS"
    done
fi

# The multi-file project: squawk takes paths or glob patterns (it expands the
# pattern itself, so the command line stays short); migsafe takes the project.
log "timing $PROJECT"
measure "$WORK/project-squawk.json" "squawk --reporter json (project)" 0,1 -- \
    "$SQUAWK" --reporter json "$PROJECT/migrations/*/up.sql"
if [ "$MIGSAFE_OK" = 1 ]; then
    measure "$WORK/project-migsafe.json" "migsafe project" 0,1 -- \
        "$MIGSAFE" lint --format json "$PROJECT"
fi

if [ "$MIGSAFE_OK" = 1 ]; then
    since_measurements
fi

log "timing every --format on $UPDATES"
measure "$WORK/linear-squawk.json" "squawk --reporter json (50k)" 0,1 -- \
    "$SQUAWK" --reporter json "$UPDATES"
if [ "$MIGSAFE_OK" = 1 ]; then
    for fmt in json human github sarif gitlab rdjson; do
        measure "$WORK/linear-$fmt.json" "migsafe 50k --format $fmt" 0,1 -- \
            "$MIGSAFE" lint --format "$fmt" "$UPDATES"
    done
fi

EXAMPLES_MODE="skipped"
EXAMPLES_NOTE=""
examples=()
if [ -d "$EXAMPLES_DIR" ]; then
    while IFS= read -r d; do examples+=("$d"); done \
        < <(find "$EXAMPLES_DIR" -mindepth 1 -maxdepth 1 -type d | LC_ALL=C sort)
fi
if [ "${#examples[@]}" -eq 0 ]; then
    EXAMPLES_NOTE="no directories under $EXAMPLES_DIR/"
elif [ "$MIGSAFE_OK" != 1 ]; then
    EXAMPLES_NOTE="migsafe unavailable"
else
    log "timing $EXAMPLES_DIR/ (${#examples[@]} directories)"
    set +e
    "$MIGSAFE" lint "${examples[@]}" >/dev/null 2>"$WORK/ex.err" </dev/null
    rc=$?
    set -e
    if [ "$rc" -eq 0 ] || [ "$rc" -eq 1 ]; then
        EXAMPLES_MODE="one invocation"
        measure "$WORK/examples-all.json" "migsafe examples (all)" 0,1 -- \
            "$MIGSAFE" lint "${examples[@]}"
    else
        EXAMPLES_MODE="per directory"
        EXAMPLES_NOTE="several paths in one call exited $rc: $(head -c 200 "$WORK/ex.err" | tr '\n' ' ')"
        warn "$EXAMPLES_NOTE; timing each directory separately"
        i=0
        for d in "${examples[@]}"; do
            i=$((i + 1))
            set +e
            "$MIGSAFE" lint "$d" >/dev/null 2>&1 </dev/null
            rc=$?
            set -e
            if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
                warn "migsafe lint $d exited $rc; skipped"
                continue
            fi
            measure "$WORK/examples-$(printf %03d $i).json" "migsafe $(basename "$d")" 0,1 -- \
                "$MIGSAFE" lint "$d"
        done
    fi
fi

# --------------------------------------------------------------------------
# 6. report
# --------------------------------------------------------------------------
export B_CORPUS="$CORPUS" B_GEN_OUT="$GEN_OUT" B_TIMER_DESC="$TIMER_DESC" \
    B_RUNS="$RUNS" B_WARMUP="$WARMUP" B_SQUAWK_VER="$SQUAWK_VER" \
    B_MIGSAFE_VER="$MIGSAFE_VER" B_GIT_REV="$GIT_REV" B_MIGSAFE_OK="$MIGSAFE_OK" \
    B_MIGSAFE_REASON="$MIGSAFE_REASON" B_TIME_BUDGET="$TIME_BUDGET" \
    B_MEM_BUDGET="$MEM_BUDGET" B_EXAMPLES_MODE="$EXAMPLES_MODE" \
    B_EXAMPLES_NOTE="$EXAMPLES_NOTE" B_BASELINE="$BASELINE" \
    B_PROJECT="$PROJECT" B_PROJECT_OUT="$PROJECT_OUT" B_UPDATES="$UPDATES" \
    B_UPDATES_N="$UPDATES_N" B_FORMAT_BUDGET="$FORMAT_BUDGET" \
    B_LOAD="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
python3 - "$WORK" "$OUT_JSON" <<'PY'
import glob, json, os, platform, re, sys, time

work, out = sys.argv[1], sys.argv[2]
E = os.environ
TB, MB = float(E["B_TIME_BUDGET"]), float(E["B_MEM_BUDGET"])
sq_ver, ms_ver = E["B_SQUAWK_VER"], E["B_MIGSAFE_VER"]

def load(name):
    p = os.path.join(work, name)
    return json.load(open(p)) if os.path.exists(p) else None

def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"

def mb(kib):
    return kib / 1024.0

def with_mb(r):
    r = dict(r)
    r["peak_rss_mb"] = round(mb(r["peak_rss_kib"]), 2)
    r["median_ms"] = round(r["median_ms"], 3)
    return r

sq = {"json": load("squawk-json.json"), "default": load("squawk-default.json")}
baseline = E["B_BASELINE"]
squawk = sq[baseline]
migsafe = load("migsafe.json")
examples = [json.load(open(p)) for p in
            sorted(glob.glob(os.path.join(work, "examples-*.json")))]
formats = [json.load(open(p)) for p in
           sorted(glob.glob(os.path.join(work, "format-*.json")))]
FB = float(E["B_FORMAT_BUDGET"])
project_sq, project_ms = load("project-squawk.json"), load("project-migsafe.json")
linear_sq = load("linear-squawk.json")
linear = {f: load("linear-%s.json" % f)
          for f in ("json", "human", "github", "sarif", "gitlab", "rdjson")}
corpus = {"path": E["B_CORPUS"], "bytes": os.path.getsize(E["B_CORPUS"]),
          "generator": E["B_GEN_OUT"]}
m = re.search(r"(\d+) statements", E["B_GEN_OUT"])
if m:
    corpus["statements"] = int(m.group(1))

report = {
    "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "machine": {"cpu": cpu_model(), "cores": os.cpu_count(),
                "kernel": platform.release(),
                "load_average_at_end": E["B_LOAD"]},
    "timer": E["B_TIMER_DESC"],
    "runs": int(E["B_RUNS"]),
    "warmup": int(E["B_WARMUP"]),
    "corpus": corpus,
    "budgets": {"time_ratio_max": TB, "memory_ratio_max": MB},
    "baseline": {"json": "squawk --reporter json",
                 "default": "squawk (default tty reporter)"}[baseline],
    "squawk": {"tool": "squawk", "version": sq_ver,
               "json_reporter": with_mb(sq["json"]),
               "default_reporter": with_mb(sq["default"])},
    "migsafe": {"tool": "migsafe", "version": ms_ver, "git": E["B_GIT_REV"],
                "available": E["B_MIGSAFE_OK"] == "1",
                "reason": E["B_MIGSAFE_REASON"] or None},
    "examples": {"mode": E["B_EXAMPLES_MODE"],
                 "note": E["B_EXAMPLES_NOTE"] or None,
                 "results": [with_mb(e) for e in examples]},
    "formats": [dict(with_mb(f), time_ratio=round(
                    f["median_ms"] / squawk["median_ms"], 4))
                for f in formats],
}
n_files = len(glob.glob(os.path.join(E["B_PROJECT"], "migrations", "*", "up.sql")))
proj = {"path": E["B_PROJECT"], "generator": E["B_PROJECT_OUT"],
        "up_files": n_files, "time_ratio_max": TB,
        "squawk": with_mb(project_sq)}
if project_ms:
    proj["migsafe"] = with_mb(project_ms)
    r = project_ms["median_ms"] / project_sq["median_ms"]
    proj["time_ratio"] = round(r, 4)
    proj["time_ratio_of_fastest_runs"] = round(
        project_ms["min_ms"] / project_sq["min_ms"], 4)
    proj["time_ok"] = r <= TB and "error" not in project_ms
report["project"] = proj
lin = {"path": E["B_UPDATES"], "statements": int(E["B_UPDATES_N"]),
       "ratio_to_json_max": FB, "squawk_json_reporter": with_mb(linear_sq),
       "formats": {}}
if linear["json"]:
    base = linear["json"]["median_ms"]
    for f, r in linear.items():
        if r:
            x = with_mb(r)
            x["ratio_to_json"] = round(r["median_ms"] / base, 4)
            x["ok"] = r["median_ms"] / base < FB and "error" not in r
            x["ratio_to_squawk_json"] = round(r["median_ms"] / linear_sq["median_ms"], 4)
            lin["formats"][f] = x
    lin["ok"] = all(x["ok"] for x in lin["formats"].values())
report["linearity"] = lin
if migsafe:
    report["migsafe"].update(with_mb(migsafe))
    tr = migsafe["median_ms"] / squawk["median_ms"]
    mr = migsafe["peak_rss_kib"] / float(squawk["peak_rss_kib"])
    bad = "error" in migsafe
    report["ratios"] = {"against": report["baseline"],
                        "time": round(tr, 4), "memory": round(mr, 4),
                        "time_of_fastest_runs": round(
                            migsafe["min_ms"] / squawk["min_ms"], 4),
                        "time_ok": tr <= TB and not bad,
                        "memory_ok": mr <= MB and not bad}
    other = sq["default" if baseline == "json" else "json"]
    report["ratios_other_squawk_run"] = {
        "against": {"json": "squawk (default tty reporter)",
                    "default": "squawk --reporter json"}[baseline],
        "time": round(migsafe["median_ms"] / other["median_ms"], 4),
        "memory": round(migsafe["peak_rss_kib"] / float(other["peak_rss_kib"]), 4)}

rows = [("tool", "version", "median wall ms", "peak RSS MB")]
for key, name in (("json", "squawk --reporter json"),
                  ("default", "squawk (default reporter)")):
    rows.append((name + (" *" if key == baseline else ""), sq_ver,
                 "%.1f" % sq[key]["median_ms"],
                 "%.1f" % mb(sq[key]["peak_rss_kib"])))
if migsafe:
    rows.append(("migsafe lint --format json", ms_ver,
                 "%.1f" % migsafe["median_ms"],
                 "%.1f" % mb(migsafe["peak_rss_kib"])))
else:
    rows.append(("migsafe lint --format json", ms_ver, "n/a", "n/a"))
for f in formats:
    rows.append((f["label"], ms_ver, "%.1f" % f["median_ms"],
                 "%.1f" % mb(f["peak_rss_kib"])))
for e in examples:
    rows.append((e["label"].replace("migsafe ", "migsafe: "), ms_ver,
                 "%.1f" % e["median_ms"], "%.1f" % mb(e["peak_rss_kib"])))
w = [max(len(r[i]) for r in rows) for i in range(4)]
print()
print("corpus: %s, %s statements, %d bytes" % (
    corpus["path"], corpus.get("statements", "?"), corpus["bytes"]))
print("timer:  %s; %d runs, %d warm-up" % (
    report["timer"], report["runs"], report["warmup"]))
print("RSS floor of the measuring setup (running `true`): %.1f MB" % (
    mb(squawk["rss_floor_kib"])))
print()
for i, r in enumerate(rows):
    print("  ".join([r[0].ljust(w[0]), r[1].ljust(w[1]),
                     r[2].rjust(w[2]), r[3].rjust(w[3])]))
    if i == 0:
        print("  ".join("-" * x for x in w))
print("(* = baseline for the ratios)")
print()
if migsafe:
    rt = report["ratios"]
    print("ratio migsafe/squawk  time   %.3f  (budget <= %.2f)  %s" % (
        rt["time"], TB, "ok" if rt["time_ok"] else "OVER BUDGET"))
    print("ratio migsafe/squawk  memory %.3f  (budget <= %.2f)  %s" % (
        rt["memory"], MB, "ok" if rt["memory_ok"] else "OVER BUDGET"))
    print("(ratio of the fastest runs, less sensitive to a busy machine: "
          "time %.3f)" % rt["time_of_fastest_runs"])
    ro = report["ratios_other_squawk_run"]
    print("(against %s: time %.3f, memory %.3f)" % (
        ro["against"], ro["time"], ro["memory"]))
    if "error" in migsafe:
        print("migsafe run problem: %s" % migsafe["error"])
else:
    print("ratio migsafe/squawk  n/a: %s" % report["migsafe"]["reason"])
if report["examples"]["mode"] == "skipped":
    print("examples: skipped (%s)" % report["examples"]["note"])
elif report["examples"]["note"]:
    print("examples: %s" % report["examples"]["note"])
for key in ("json", "default"):
    if "error" in sq[key]:
        print("squawk (%s) run problem: %s" % (key, sq[key]["error"]))
print()
print("project: %s (%s)" % (proj["path"], proj["generator"]))
print("  squawk --reporter json on %d up.sql  median %8.1f ms" % (
    n_files, project_sq["median_ms"]))
if project_ms:
    print("  migsafe lint --format json         median %8.1f ms" % project_ms["median_ms"])
    print("  ratio %.3f (budget <= %.2f) %s; fastest runs %.3f" % (
        proj["time_ratio"], TB, "ok" if proj["time_ok"] else "OVER BUDGET",
        proj["time_ratio_of_fastest_runs"]))
print()
print("renderer linearity: %s (%d UPDATEs, one finding each)" % (
    lin["path"], lin["statements"]))
print("  squawk --reporter json             median %8.1f ms" % linear_sq["median_ms"])
for f, x in lin["formats"].items():
    print("  migsafe --format %-8s           median %8.1f ms  x%.2f of json  %s" % (
        f, x["median_ms"], x["ratio_to_json"], "ok" if x["ok"] else "OVER BUDGET"))
print("load average at the end: %s" % E["B_LOAD"])

with open(out, "w") as f:
    json.dump(report, f, indent=2)
    f.write("\n")
print()
print("wrote %s" % out)
PY

if [ "$MIGSAFE_OK" = 1 ]; then
    since_report "$OUT_JSON"
fi

if [ "${BENCH_STRICT:-0}" = 1 ]; then
    python3 - "$OUT_JSON" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ok = r["migsafe"]["available"] and r.get("ratios", {}).get("time_ok") \
    and r.get("ratios", {}).get("memory_ok") \
    and r.get("project", {}).get("time_ok") and r.get("linearity", {}).get("ok") \
    and r.get("since", {}).get("ok")
sys.exit(0 if ok else 1)
PY
fi
