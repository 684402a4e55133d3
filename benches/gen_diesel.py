#!/usr/bin/env python3
"""Generate a diesel-layout migration project shaped like a long-lived application.

    python3 benches/gen_diesel.py                       # -> target/bench/diesel-project
    python3 benches/gen_diesel.py OUT_DIR --migrations 700 --statements 5000

OUT_DIR gets `diesel.toml` and `migrations/YYYY-MM-DD-HHMMSS_name/{up,down}.sql` (plus
`metadata.toml` with `run_in_transaction = false` for the few migrations that build an index
CONCURRENTLY), starting with diesel's own `00000000000000_diesel_initial_setup`. OUT_DIR is
emptied first.

Most migrations are small (1 to 20 statements): CREATE TABLE with its indexes, ADD COLUMN
followed by a backfill UPDATE of the new column (and sometimes SET NOT NULL), indexes, foreign
keys added NOT VALID then validated, CHECK constraints, renames, enums and ADD VALUE, plpgsql
functions with triggers, DO blocks, seed rows, views, type changes and drops. The generator keeps
a model of the schema so that statements name tables and columns that exist at that point; the
files are meant for the linters and have not been run against a server. Every down undoes its
up, except ALTER TYPE ... ADD VALUE and data changes, whose downs are `SELECT 1`.

Standard library only; deterministic for given options (no dependence on PYTHONHASHSEED).
Prints one summary line: "<dirs> migrations, <statements> statements (up), <bytes> bytes".
"""

import argparse
import os
import random
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_corpus import (  # noqa: E402  (vocabulary shared with the single-file corpus)
    COLUMN_TEMPLATES, ENUM_DEFS, ENUM_EXTRA_VALUES, TABLE_NOUNS, TABLE_PREFIXES, WORDS,
)

DEFAULT_OUT = os.path.join("target", "bench", "diesel-project")
DEFAULT_SEED = 20261208

INITIAL_UP = """\
-- This file was automatically created by Diesel to setup helper functions
-- and other internal bookkeeping. This file is safe to edit, any future
-- changes will be added to existing projects as new migrations.

CREATE OR REPLACE FUNCTION diesel_manage_updated_at(_tbl regclass) RETURNS VOID AS $$
BEGIN
    EXECUTE format('CREATE TRIGGER set_updated_at BEFORE UPDATE ON %s
                    FOR EACH ROW EXECUTE PROCEDURE diesel_set_updated_at()', _tbl);
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION diesel_set_updated_at() RETURNS trigger AS $$
BEGIN
    IF (
        NEW IS DISTINCT FROM OLD AND
        NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at
    ) THEN
        NEW.updated_at := current_timestamp;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""
INITIAL_DOWN = """\
-- This file was automatically created by Diesel to setup helper functions
-- and other internal bookkeeping. This file is safe to edit, any future
-- changes will be added to existing projects as new migrations.

DROP FUNCTION IF EXISTS diesel_manage_updated_at(_tbl regclass);
DROP FUNCTION IF EXISTS diesel_set_updated_at();
"""

VALUES = {
    "int": "0", "num": "0", "rate": "0", "float": "0", "bool": "false",
    "text": "''", "name": "'unknown'", "first": "''", "last": "''", "word": "'legacy'",
    "slug": None, "email": None, "uuid": None, "status": "'active'", "code3": "'USD'",
    "code2": "'US'", "jsonb": "'{}'::jsonb", "tstz": "now()", "ts": "now()",
    "date": "current_date", "textarr": "'{}'", "bytea": "'\\x00'::bytea",
    "interval": "interval '0'", "inet": None, "locale": "'en'", "tz": "'UTC'",
    "phone": None, "url": None,
}


class Table:
    def __init__(self, name):
        self.name = name
        self.cols = {}      # name -> (type, kind)
        self.indexes = []   # index names
        self.fks = []       # constraint names
        self.checks = []    # constraint names
        self.trigger = None


class Project:
    def __init__(self, seed, migrations, statements):
        self.rng = random.Random(seed)
        self.want_dirs = migrations
        self.want_stmts = statements
        self.tables = []
        self.enums = []         # [name, values]
        self.enum_defs = list(ENUM_DEFS)
        self.views = []
        self.functions = 0
        self.used = set()
        self.counter = 0
        self.ts = [2019, 1, 7, 9, 0, 0]
        self.stmts = 0
        self.dirs = []          # (name, up, down, metadata)
        self.subject = None     # first table the migration being written touches
        self.room = 20          # statements left before the migration reaches 20

    # -- helpers --------------------------------------------------------------
    def pick(self, seq):
        return seq[self.rng.randrange(len(seq))]

    def chance(self, p):
        return self.rng.random() < p

    def uniq(self, base):
        name, n = base[:55], 2
        while name in self.used:
            name = "%s_%d" % (base[:52], n)
            n += 1
        self.used.add(name)
        return name

    def stamp(self):
        y, mo, d, h, mi, s = self.ts
        d += self.rng.randint(0, 3)
        h = self.rng.randint(7, 19)
        mi, s = self.rng.randint(0, 59), self.rng.randint(0, 59)
        if d > 28:
            d -= 28
            mo += 1
        if mo > 12:
            mo -= 12
            y += 1
        self.ts = [y, mo, d, h, mi, s]
        return "%04d-%02d-%02d-%02d%02d%02d" % tuple(self.ts)

    def table(self, pred=None):
        pool = [t for t in self.tables if pred is None or pred(t)]
        t = self.pick(pool) if pool else None
        if t is not None and self.subject is None:
            self.subject = t.name
        return t

    def new_col(self, t):
        for _ in range(20):
            name, typ, kind, _opts = self.pick(COLUMN_TEMPLATES)
            if name not in t.cols:
                return name, typ, kind
        name = self.uniq("%s_extra" % self.pick(WORDS))
        return name, "text", "text"

    def value(self, kind, n):
        v = VALUES.get(kind)
        if v is None:
            if kind == "uuid":
                return "gen_random_uuid()"
            if kind == "inet":
                return "'10.0.0.%d'" % (n % 250 + 1)
            return "'%s-%d'" % (self.pick(WORDS), n)
        return v

    # -- changes: each returns (up statements, down statements) ---------------
    def c_create_table(self):
        t = Table(self.uniq(self.pick(TABLE_PREFIXES) + self.pick(TABLE_NOUNS)))
        self.subject = self.subject or t.name
        cols = ["    id bigserial PRIMARY KEY"]
        up, down = [], []
        parent = self.table() if self.tables and self.chance(0.6) else None
        if parent:
            fk = "%s_id" % parent.name.rstrip("s")[:40]
            cols.append("    %s bigint NOT NULL REFERENCES %s (id)" % (fk, parent.name))
            t.cols[fk] = ("bigint", "int")
        for _ in range(self.rng.randint(2, 9)):
            name, typ, kind = self.new_col(t)
            t.cols[name] = (typ, kind)
            extra = ""
            if kind in ("bool", "int") and self.chance(0.5):
                extra = " NOT NULL DEFAULT %s" % VALUES[kind]
            elif kind == "text" and self.chance(0.3):
                extra = " NOT NULL"
            cols.append("    %s %s%s" % (name, typ, extra))
        cols.append("    created_at timestamptz NOT NULL DEFAULT now()")
        cols.append("    updated_at timestamptz NOT NULL DEFAULT now()")
        t.cols["created_at"] = ("timestamptz", "tstz")
        t.cols["updated_at"] = ("timestamptz", "tstz")
        up.append("CREATE TABLE %s (\n%s\n)" % (t.name, ",\n".join(cols)))
        down.append("DROP TABLE %s" % t.name)
        if self.chance(0.5):
            up.append("SELECT diesel_manage_updated_at('%s')" % t.name)
        if parent:
            ix = self.uniq("idx_%s_%s" % (t.name, fk))
            up.append("CREATE INDEX %s ON %s (%s)" % (ix, t.name, fk))
            t.indexes.append(ix)
        if self.chance(0.3):
            up.append("COMMENT ON TABLE %s IS 'One row per %s.'" % (t.name, t.name))
        self.tables.append(t)
        return up, down

    def c_add_column(self):
        t = self.table()
        name, typ, kind = self.new_col(t)
        up = ["ALTER TABLE %s ADD COLUMN %s %s" % (t.name, name, typ)]
        down = ["ALTER TABLE %s DROP COLUMN %s" % (t.name, name)]
        t.cols[name] = (typ, kind)
        if self.chance(0.6):
            src = self.pick(sorted(t.cols))
            if src != name and t.cols[src][0] == typ:
                expr = src
            else:
                expr = self.value(kind, self.counter)
            up.append("UPDATE %s SET %s = %s WHERE %s IS NULL" % (t.name, name, expr, name))
            if self.chance(0.4):
                up.append("ALTER TABLE %s ALTER COLUMN %s SET NOT NULL" % (t.name, name))
        if self.chance(0.2):
            up.append("COMMENT ON COLUMN %s.%s IS 'Backfilled in release %d.'"
                      % (t.name, name, self.counter))
        return up, down

    def c_index(self):
        t = self.table()
        up, down = [], []
        for _ in range(self.rng.randint(1, 3)):
            col = self.pick(sorted(t.cols))
            ix = self.uniq("idx_%s_%s" % (t.name, col))
            unique = "UNIQUE " if self.chance(0.15) else ""
            where = " WHERE deleted_at IS NULL" if "deleted_at" in t.cols and self.chance(0.3) else ""
            up.append("CREATE %sINDEX %s ON %s (%s)%s" % (unique, ix, t.name, col, where))
            down.insert(0, "DROP INDEX %s" % ix)
            t.indexes.append(ix)
        return up, down

    def c_fk(self):
        t = self.table()
        ref = self.table(lambda r: r is not t)
        if ref is None:
            return self.c_add_column()
        col = self.uniq("%s_id" % ref.name.rstrip("s")[:40])
        con = self.uniq("fk_%s_%s" % (t.name, col))
        up = ["ALTER TABLE %s ADD COLUMN %s bigint" % (t.name, col),
              "ALTER TABLE %s ADD CONSTRAINT %s FOREIGN KEY (%s) REFERENCES %s (id) NOT VALID"
              % (t.name, con, col, ref.name),
              "ALTER TABLE %s VALIDATE CONSTRAINT %s" % (t.name, con)]
        down = ["ALTER TABLE %s DROP CONSTRAINT %s" % (t.name, con),
                "ALTER TABLE %s DROP COLUMN %s" % (t.name, col)]
        t.cols[col] = ("bigint", "int")
        t.fks.append(con)
        if self.chance(0.7):
            ix = self.uniq("idx_%s_%s" % (t.name, col))
            up.append("CREATE INDEX %s ON %s (%s)" % (ix, t.name, col))
            t.indexes.append(ix)
        return up, down

    def c_check(self):
        t = self.table(lambda t: any(k == "int" for _, k in t.cols.values()))
        if t is None:
            return self.c_index()
        col = self.pick(sorted(c for c, (_, k) in t.cols.items() if k == "int"))
        con = self.uniq("chk_%s_%s" % (t.name, col))
        up = ["ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s >= 0) NOT VALID" % (t.name, con, col)]
        if self.chance(0.7):
            up.append("ALTER TABLE %s VALIDATE CONSTRAINT %s" % (t.name, con))
        t.checks.append(con)
        return up, ["ALTER TABLE %s DROP CONSTRAINT %s" % (t.name, con)]

    def c_rename(self):
        t = self.table(lambda t: len(t.cols) > 4)
        if t is None or self.chance(0.3):
            t = self.table()
            new = self.uniq(t.name + "_v2") if not t.name.endswith("_v2") else self.uniq(t.name)
            up = ["ALTER TABLE %s RENAME TO %s" % (t.name, new)]
            down = ["ALTER TABLE %s RENAME TO %s" % (new, t.name)]
            t.name = new
            return up, down
        col = self.pick(sorted(c for c in t.cols if c not in ("created_at", "updated_at")))
        new = col + "_old" if not col.endswith("_old") else col[:-4] + "_legacy"
        if new in t.cols:
            return self.c_index()
        t.cols[new] = t.cols.pop(col)
        return (["ALTER TABLE %s RENAME COLUMN %s TO %s" % (t.name, col, new)],
                ["ALTER TABLE %s RENAME COLUMN %s TO %s" % (t.name, new, col)])

    def c_enum(self):
        if self.enums and self.chance(0.5):
            e = self.pick(self.enums)
            extra = [v for v in ENUM_EXTRA_VALUES if v not in e[1]]
            if extra:
                v = extra[0]
                e[1].append(v)
                # ALTER TYPE ... ADD VALUE cannot be undone: the down leaves it.
                return (["ALTER TYPE %s ADD VALUE IF NOT EXISTS '%s'" % (e[0], v)],
                        ["SELECT 1"])
        if self.enum_defs:
            name, values = self.enum_defs.pop(0)
        else:
            name, values = self.uniq("%s_kind" % self.pick(WORDS)), ["a", "b", "c"]
        self.enums.append([name, list(values)])
        t = self.table()
        # `kilo_kind_2` → a column `kilo_kind` (a bare `2` is no identifier).
        col = self.uniq(name.split("_")[0] + "_kind")
        up = ["CREATE TYPE %s AS ENUM (%s)" % (name, ", ".join("'%s'" % v for v in values)),
              "ALTER TABLE %s ADD COLUMN %s %s NOT NULL DEFAULT '%s'"
              % (t.name, col, name, values[0])]
        t.cols[col] = (name, "enum")
        return up, ["ALTER TABLE %s DROP COLUMN %s" % (t.name, col), "DROP TYPE %s" % name]

    def c_trigger(self):
        t = self.table()
        self.functions += 1
        fn = self.uniq("%s_touch_%d" % (t.name[:40], self.functions))
        body = ("CREATE OR REPLACE FUNCTION %s() RETURNS trigger\nLANGUAGE plpgsql AS $$\n"
                "BEGIN\n"
                "    IF NEW.updated_at IS NULL OR NEW.updated_at < OLD.updated_at THEN\n"
                "        NEW.updated_at := now();\n"
                "    END IF;\n"
                "    RETURN NEW;\n"
                "END;\n$$" % fn)
        trg = self.uniq("trg_%s" % fn)
        up = [body, "CREATE TRIGGER %s BEFORE UPDATE ON %s\n    FOR EACH ROW EXECUTE FUNCTION %s()"
              % (trg, t.name, fn)]
        down = ["DROP TRIGGER %s ON %s" % (trg, t.name), "DROP FUNCTION %s()" % fn]
        return up, down

    def c_function(self):
        t = self.table()
        self.functions += 1
        fn = self.uniq("count_%s_%d" % (t.name[:40], self.functions))
        lang = self.pick(["sql", "plpgsql"])
        if lang == "sql":
            body = ("CREATE FUNCTION %s(since timestamptz) RETURNS bigint\nLANGUAGE sql STABLE AS $$\n"
                    "    SELECT count(*) FROM %s WHERE created_at >= since\n$$" % (fn, t.name))
        else:
            body = ("CREATE FUNCTION %s(since timestamptz) RETURNS bigint\nLANGUAGE plpgsql AS $$\n"
                    "DECLARE\n    n bigint;\nBEGIN\n"
                    "    SELECT count(*) INTO n FROM %s WHERE created_at >= since;\n"
                    "    RETURN n;\nEND;\n$$" % (fn, t.name))
        return [body], ["DROP FUNCTION %s(timestamptz)" % fn]

    def c_do_block(self):
        t = self.table()
        col = self.uniq("flag_%s" % self.pick(WORDS))
        up = ["DO $$\nBEGIN\n"
              "    IF NOT EXISTS (SELECT 1 FROM information_schema.columns\n"
              "                   WHERE table_name = '%s' AND column_name = '%s') THEN\n"
              "        ALTER TABLE %s ADD COLUMN %s boolean;\n"
              "    END IF;\nEND\n$$" % (t.name, col, t.name, col)]
        t.cols[col] = ("boolean", "bool")
        return up, ["ALTER TABLE %s DROP COLUMN IF EXISTS %s" % (t.name, col)]

    def c_seed(self):
        t = self.table()
        cols = [c for c, (_, k) in sorted(t.cols.items())
                if k in ("text", "name", "word", "int", "bool", "status") and not c.endswith("_id")]
        if not cols:
            return self.c_add_column()
        cols = cols[:4]
        up = []
        for i in range(self.rng.randint(min(3, self.room), max(1, min(12, self.room)))):
            self.counter += 1
            vals = ", ".join(self.value(t.cols[c][1], self.counter) if t.cols[c][1] != "int"
                             else str(self.counter) for c in cols)
            up.append("INSERT INTO %s (%s) VALUES (%s)" % (t.name, ", ".join(cols), vals))
        return up, ["DELETE FROM %s WHERE created_at >= '2019-01-01'" % t.name]

    def c_data_fix(self):
        t = self.table()
        col = self.pick(sorted(t.cols))
        kind = t.cols[col][1]
        v = self.value(kind, self.counter)
        return (["UPDATE %s SET %s = %s WHERE %s IS NULL" % (t.name, col, v, col)],
                ["SELECT 1"])

    def c_alter(self):
        t = self.table()
        col = self.pick(sorted(t.cols))
        typ, kind = t.cols[col]
        if typ == "integer":
            t.cols[col] = ("bigint", kind)
            return (["ALTER TABLE %s ALTER COLUMN %s TYPE bigint" % (t.name, col)],
                    ["ALTER TABLE %s ALTER COLUMN %s TYPE integer" % (t.name, col)])
        if typ.startswith("varchar"):
            t.cols[col] = ("text", kind)
            return (["ALTER TABLE %s ALTER COLUMN %s TYPE text" % (t.name, col)],
                    ["ALTER TABLE %s ALTER COLUMN %s TYPE %s" % (t.name, col, typ)])
        v = VALUES.get(kind)
        if v is None or kind == "enum":
            return self.c_index()
        return (["ALTER TABLE %s ALTER COLUMN %s SET DEFAULT %s" % (t.name, col, v)],
                ["ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT" % (t.name, col)])

    def c_drop(self):
        t = self.table(lambda t: t.indexes)
        if t is not None and self.chance(0.5):
            ix = t.indexes.pop(0)
            return ["DROP INDEX IF EXISTS %s" % ix], ["SELECT 1"]
        t = self.table(lambda t: len(t.cols) > 5)
        if t is None:
            return self.c_add_column()
        col = self.pick(sorted(c for c, (_, k) in t.cols.items()
                               if k not in ("enum",) and c not in ("created_at", "updated_at")
                               and not c.endswith("_id")) or [None])
        if col is None:
            return self.c_add_column()
        typ, _ = t.cols.pop(col)
        return (["ALTER TABLE %s DROP COLUMN IF EXISTS %s CASCADE" % (t.name, col)],
                ["ALTER TABLE %s ADD COLUMN %s %s" % (t.name, col, typ)])

    def c_view(self):
        t = self.table()
        v = self.uniq("v_%s" % t.name[:50])
        self.views.append(v)
        return (["CREATE VIEW %s AS\n    SELECT id, created_at FROM %s" % (v, t.name)],
                ["DROP VIEW %s" % v])

    CHANGES = [
        ("create_table", 14), ("add_column", 22), ("index", 13), ("fk", 8), ("check", 5),
        ("rename", 5), ("enum", 4), ("trigger", 3), ("function", 2), ("do_block", 2),
        ("seed", 6), ("data_fix", 4), ("alter", 6), ("drop", 5), ("view", 2),
    ]

    SMALL = ("add_column", "index", "check", "rename", "alter", "drop", "data_fix")

    def change(self):
        changes = self.CHANGES
        if self.room < 5:
            changes = [c for c in changes if c[0] in self.SMALL]
        names, weights = zip(*changes)
        kind = self.rng.choices(names, weights)[0] if len(self.tables) >= 3 else "create_table"
        return kind, getattr(self, "c_" + kind)()

    def concurrent_index(self):
        t = self.table()
        col = self.pick(sorted(t.cols))
        ix = self.uniq("idx_%s_%s_c" % (t.name, col))
        t.indexes.append(ix)
        return (["CREATE INDEX CONCURRENTLY IF NOT EXISTS %s ON %s (%s)" % (ix, t.name, col)],
                ["DROP INDEX CONCURRENTLY IF EXISTS %s" % ix])

    # -- driver -----------------------------------------------------------------
    def run(self):
        self.dirs.append(("00000000000000_diesel_initial_setup", INITIAL_UP, INITIAL_DOWN, None))
        self.stmts += 2
        while len(self.dirs) < self.want_dirs:
            left_dirs = self.want_dirs - len(self.dirs)
            mean = max(1.0, (self.want_stmts - self.stmts) / left_dirs)
            # mostly small files; a long tail up to 20 statements
            target = min(20, max(1, int(self.rng.expovariate(1.0 / mean) + 0.5)))
            if left_dirs == 1:
                target = max(1, min(20, self.want_stmts - self.stmts))
            metadata = None
            self.subject = None
            if len(self.tables) >= 3 and self.chance(0.03):
                kind, (up, down) = "index_concurrently", self.concurrent_index()
                metadata = "run_in_transaction = false\n"
                first = kind
            else:
                up, down, first = [], [], None
                while len(up) < target:
                    self.room = max(1, 20 - len(up))
                    kind, (u, d) = self.change()
                    first = first or kind
                    up += u
                    down = d + down
            self.counter += 1
            name = "%s_%s_%s" % (self.stamp(), first, self.subject or "schema")
            self.stmts += len(up)
            self.dirs.append((name, "".join(s + ";\n\n" for s in up).rstrip() + "\n",
                              "".join(s + ";\n" for s in down), metadata))

    def write(self, out):
        if os.path.isdir(out):
            shutil.rmtree(out)
        mig = os.path.join(out, "migrations")
        os.makedirs(mig)
        with open(os.path.join(out, "diesel.toml"), "w") as f:
            f.write('[print_schema]\nfile = "src/schema.rs"\n\n'
                    '[migrations_directory]\ndir = "migrations"\n')
        size = 0
        for name, up, down, metadata in self.dirs:
            d = os.path.join(mig, name)
            os.makedirs(d)
            for fname, text in (("up.sql", up), ("down.sql", down), ("metadata.toml", metadata)):
                if text is not None:
                    with open(os.path.join(d, fname), "w") as f:
                        f.write(text)
                    if fname == "up.sql":
                        size += len(text.encode())
        return size


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", nargs="?", default=DEFAULT_OUT)
    ap.add_argument("--migrations", type=int, default=700)
    ap.add_argument("--statements", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    a = ap.parse_args(argv)
    p = Project(a.seed, a.migrations, a.statements)
    p.run()
    size = p.write(a.out)
    print("%d migrations, %d statements (up), %d bytes of up.sql in %s"
          % (len(p.dirs), p.stmts, size, a.out))


if __name__ == "__main__":
    main()
