#!/usr/bin/env python3
"""Generate a large, realistic PostgreSQL migration corpus for benchmarking.

The output imitates what a long-lived application accumulates when all of its
migrations are concatenated into one file: table creation, expand/contract
column changes, concurrent indexes, NOT VALID constraints validated later,
backfills, seed rows, views, functions, triggers, enums, partitions, comments,
lock/statement timeouts, and BEGIN/COMMIT around most transactional
migrations (the way Django's sqlmigrate prints them).

The generator keeps a model of the schema (tables, columns, constraints,
indexes, views, row counts) so that every statement is valid *in sequence*:
the whole file executes cleanly on an empty PostgreSQL 15 database with
`psql -v ON_ERROR_STOP=1 -f corpus.sql`.

Size is steered towards --bytes while --statements are written: when the file
runs ahead of its byte budget, changes are written more tersely (fewer
optional columns, rows and comments) and, if needed, small changes are
favoured for a while. --bytes 0 turns the steering off.

Standard library only; deterministic for given options (output does not
depend on PYTHONHASHSEED).

    python3 benches/gen_corpus.py                     # -> target/bench/corpus.sql
    python3 benches/gen_corpus.py /tmp/corpus.sql     # other output path
    python3 benches/gen_corpus.py --stats             # print the statement mix
"""

import argparse
import os
import random
import sys
import uuid

DEFAULT_OUT = os.path.join("target", "bench", "corpus.sql")
DEFAULT_SEED = 20240611
DEFAULT_STATEMENTS = 5900
DEFAULT_BYTES = 320 * 1024

# --------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------

TABLE_NOUNS = [
    "users", "accounts", "organizations", "teams", "memberships", "roles",
    "permissions", "projects", "tasks", "comments", "attachments", "tags",
    "taggings", "customers", "addresses", "products", "product_variants",
    "prices", "plans", "subscriptions", "invoices", "invoice_items",
    "payments", "refunds", "payouts", "orders", "order_items", "shipments",
    "carriers", "warehouses", "inventory_levels", "suppliers",
    "purchase_orders", "notifications", "email_deliveries", "webhooks",
    "webhook_deliveries", "api_keys", "sessions", "login_attempts",
    "feature_flags", "experiments", "experiment_assignments", "documents",
    "document_versions", "folders", "shares", "invitations", "integrations",
    "sync_jobs", "imports", "exports", "reports", "dashboards", "widgets",
    "alerts", "incidents", "oncall_schedules", "tickets", "ticket_messages",
    "knowledge_articles", "coupons", "discounts", "tax_rates", "ledgers",
    "ledger_entries", "bank_accounts", "transfers", "disputes", "reviews",
    "ratings", "favorites", "carts", "cart_items", "wishlists", "devices",
    "push_tokens", "locations", "regions", "stores", "employees",
    "departments", "shifts", "timesheets", "contracts", "vendors",
    "assets", "licenses", "audit_exports", "data_retention_policies",
    "campaigns", "segments", "contacts", "leads", "opportunities", "quotes",
    "quote_lines", "milestones", "sprints", "releases", "environments",
    "deployments", "builds", "artifacts", "secrets", "channels", "messages",
    "threads", "reactions", "mentions", "calendars", "calendar_events",
    "bookings", "resources", "rooms", "courses", "lessons", "enrollments",
    "certificates", "surveys", "survey_responses", "forms", "form_fields",
    "workflows", "workflow_steps", "approvals", "policies", "claims",
]
TABLE_PREFIXES = ["", "billing_", "crm_", "ops_", "core_", "app_", "hr_",
                  "mkt_", "sales_", "support_", "infra_", "legacy_"]

WORDS = [
    "alpha", "amber", "atlas", "basic", "blue", "bronze", "cedar", "cobalt",
    "coral", "delta", "ember", "falcon", "garnet", "gold", "harbor", "indigo",
    "jade", "juniper", "kilo", "lumen", "maple", "meadow", "nova", "onyx",
    "orbit", "pine", "pixel", "quartz", "raven", "river", "sable", "silver",
    "slate", "solar", "summit", "tango", "terra", "umber", "vega", "willow",
]
FIRST_NAMES = ["Ada", "Grace", "Linus", "Margaret", "Ken", "Barbara", "Edsger",
               "Frances", "Dennis", "Radia", "Guido", "Anita", "Bjarne", "Hedy"]
LAST_NAMES = ["Lovelace", "Hopper", "Torvalds", "Hamilton", "Thompson",
              "Liskov", "Dijkstra", "Allen", "Ritchie", "Perlman", "Borg"]
STATUS_SETS = [
    ["pending", "active", "suspended", "closed"],
    ["draft", "open", "paid", "void", "uncollectible"],
    ["queued", "running", "succeeded", "failed", "cancelled"],
    ["new", "in_progress", "resolved", "closed"],
    ["trialing", "active", "past_due", "canceled"],
]
ENUM_DEFS = [
    ("order_status", ["pending", "confirmed", "shipped", "delivered"]),
    ("payment_method", ["card", "bank_transfer", "wallet"]),
    ("user_role", ["member", "admin", "owner"]),
    ("job_state", ["queued", "running", "done"]),
    ("priority_level", ["low", "normal", "high"]),
    ("delivery_channel", ["email", "sms", "push"]),
    ("visibility", ["private", "internal", "public"]),
    ("billing_interval", ["month", "year"]),
]
ENUM_EXTRA_VALUES = ["archived", "expired", "on_hold", "urgent", "webhook",
                     "quarter", "failed", "blocked", "guest", "returned"]
COMMENT_PHRASES = [
    "Source of truth for {t}.",
    "One row per {t} record.",
    "Set by the nightly sync.",
    "Denormalised for dashboards.",
    "Use the service layer.",
    "Kept for compliance.",
    "Backfilled in release {n}.",
    "Nullable until backfilled.",
    "Customer-visible.",
    "Used by billing reports.",
    "Written by the {t} importer.",
    "Deprecated since v{n}.",
    "Cached copy of upstream.",
    "UTC timestamps.",
    "Internal only.",
    "See ticket #{n}.",
]
MIGRATION_VERBS = ["add", "create", "backfill", "drop", "rename", "index",
                   "validate", "alter", "seed", "cleanup", "tighten", "split"]

# Column templates: (name, sql type, kind, options)
# kind drives value generation; options may set default/unique/check.
COLUMN_TEMPLATES = [
    ("name", "text", "name", {}),
    ("title", "varchar(200)", "text", {"check_len": 200}),
    ("description", "text", "text", {}),
    ("notes", "text", "text", {}),
    ("slug", "varchar(120)", "slug", {"unique": True}),
    ("email", "text", "email", {"unique": True}),
    ("billing_email", "varchar(320)", "email", {"unique": True}),
    ("status", "text", "status", {"default": "status"}),
    ("state", "text", "status", {"default": "status"}),
    ("amount_cents", "bigint", "int", {"default": "0", "check_nonneg": True}),
    ("balance_cents", "bigint", "int", {"default": "0"}),
    ("total_cents", "bigint", "int", {"check_nonneg": True}),
    ("currency", "char(3)", "code3", {"default": "'USD'"}),
    ("country_code", "char(2)", "code2", {}),
    ("price", "numeric(12,2)", "num", {"check_nonneg": True}),
    ("tax_rate", "numeric(6,4)", "rate", {}),
    ("quantity", "integer", "int", {"default": "1", "check_nonneg": True}),
    ("position", "integer", "int", {"default": "0"}),
    ("priority", "smallint", "int", {"default": "0"}),
    ("retry_count", "integer", "int", {"default": "0"}),
    ("version", "integer", "int", {"default": "1"}),
    ("is_active", "boolean", "bool", {"default": "true"}),
    ("is_default", "boolean", "bool", {"default": "false"}),
    ("enabled", "boolean", "bool", {"default": "true"}),
    ("verified", "boolean", "bool", {}),
    ("metadata", "jsonb", "jsonb", {"default": "'{}'::jsonb"}),
    ("settings", "jsonb", "jsonb", {}),
    ("payload", "jsonb", "jsonb", {}),
    ("external_id", "uuid", "uuid", {"unique": True}),
    ("request_id", "uuid", "uuid", {}),
    ("ip_address", "inet", "inet", {}),
    ("starts_at", "timestamptz", "tstz", {}),
    ("ends_at", "timestamptz", "tstz", {}),
    ("expires_at", "timestamptz", "tstz", {}),
    ("archived_at", "timestamptz", "tstz", {}),
    ("deleted_at", "timestamptz", "tstz", {}),
    ("processed_at", "timestamp", "ts", {}),
    ("published_at", "timestamp", "ts", {}),
    ("due_on", "date", "date", {}),
    ("birth_date", "date", "date", {}),
    ("tags", "text[]", "textarr", {"default": "'{}'"}),
    ("checksum", "bytea", "bytea", {}),
    ("duration", "interval", "interval", {}),
    ("score", "double precision", "float", {}),
    ("ratio", "real", "float", {}),
    ("locale", "varchar(16)", "locale", {"default": "'en'"}),
    ("timezone", "text", "tz", {"default": "'UTC'"}),
    ("phone", "varchar(32)", "phone", {}),
    ("url", "text", "url", {}),
    ("source", "varchar(64)", "word", {}),
    ("kind", "varchar(64)", "word", {}),
    ("code", "varchar(40)", "slug", {"unique": True}),
    ("reference", "varchar(80)", "slug", {"unique": True}),
    ("display_name", "varchar(255)", "name", {}),
    ("first_name", "varchar(100)", "first", {}),
    ("last_name", "varchar(100)", "last", {}),
    ("sort_key", "integer", "int", {}),
    ("weight_grams", "integer", "int", {"check_nonneg": True}),
    ("last_seen_at", "timestamptz", "tstz", {}),
    ("error_message", "text", "text", {}),
]

ALTER_TYPE_MAP = {
    "smallint": ["integer"],
    "integer": ["bigint"],
    "real": ["double precision"],
    "timestamp": ["timestamptz"],
    "text": ["varchar(255)"],
    "varchar(16)": ["varchar(32)", "text"],
    "varchar(32)": ["varchar(64)", "text"],
    "varchar(40)": ["varchar(80)", "text"],
    "varchar(64)": ["varchar(128)", "text"],
    "varchar(80)": ["varchar(160)", "text"],
    "varchar(100)": ["varchar(200)", "text"],
    "varchar(120)": ["varchar(240)", "text"],
    "varchar(128)": ["varchar(256)", "text"],
    "varchar(160)": ["text"],
    "varchar(200)": ["varchar(400)", "text"],
    "varchar(240)": ["text"],
    "varchar(255)": ["varchar(512)", "text"],
    "varchar(256)": ["text"],
    "varchar(320)": ["text"],
    "varchar(400)": ["text"],
    "varchar(512)": ["text"],
    "numeric(12,2)": ["numeric(16,2)"],
    "numeric(16,2)": ["numeric(20,2)"],
    "numeric(6,4)": ["numeric(10,4)"],
    "numeric(10,4)": ["numeric(14,4)"],
}

MONTHS = [(y, m) for y in range(2019, 2031) for m in range(1, 13)]


def singular(name):
    for plural, one in (("ies", "y"), ("sses", "ss"), ("ches", "ch"),
                        ("shes", "sh"), ("xes", "x"), ("s", "")):
        if name.endswith(plural):
            return name[:-len(plural)] + one
    return name


# --------------------------------------------------------------------------
# Schema model
# --------------------------------------------------------------------------

class Column:
    def __init__(self, name, typ, kind, nullable=True, default=None,
                 unique=False, status_values=None, enum=None, fk=None,
                 generated=False, identity=False, pk=False):
        self.name = name
        self.type = typ
        self.kind = kind
        self.nullable = nullable
        self.default = default
        self.unique = unique
        self.status_values = status_values
        self.enum = enum          # EnumType
        self.fk = fk              # referenced Table
        self.generated = generated
        self.identity = identity  # identity or serial: never inserted
        self.pk = pk
        self.locks = 0            # dependants that forbid drop/alter/rename
        self.may_have_nulls = False


class Index:
    def __init__(self, name, cols, unique=False):
        self.name = name
        self.cols = cols  # column names referenced (keys, predicate, INCLUDE)
        self.unique = unique


class Constraint:
    def __init__(self, name, kind, cols, validated=True):
        self.name = name
        self.kind = kind
        self.cols = cols
        self.validated = validated


class Table:
    def __init__(self, name):
        self.name = name
        self.cols = []
        self.rows = 0
        self.pk_kind = "identity"
        self.incoming_fks = 0
        self.views = 0
        self.indexes = []
        self.constraints = []
        self.partitioned = False
        self.partitions = []  # [name, (y, m), attached]
        self.core = False     # never dropped / renamed
        self.has_updated_trigger = False
        self.has_audit_trigger = False
        self.functions = 0

    def col(self, name):
        for c in self.cols:
            if c.name == name:
                return c
        return None

    def col_names(self):
        return [c.name for c in self.cols]


class EnumType:
    def __init__(self, name, values):
        self.name = name
        self.values = list(values)


class View:
    def __init__(self, name, table, deps, materialized=False, parent=None,
                 select=None, where_deleted=False):
        self.name = name
        self.table = table
        self.deps = deps          # (table, column name) pairs it locks
        self.materialized = materialized
        self.parent = parent
        self.select = select or []  # columns of `table`, in order
        self.where_deleted = where_deleted


# --------------------------------------------------------------------------
# Generator
# --------------------------------------------------------------------------

class Corpus:
    def __init__(self, seed, target, target_bytes, tx_share=0.85):
        self.rng = random.Random(seed)
        self.target = target
        self.target_bytes = target_bytes
        self.nbytes = 0
        self.tx_share = tx_share
        self.light_picks = 0
        self.terse = False
        self.out = []
        self.stmts = 0
        self.kinds = {}
        self.kind_bytes = {}
        self.names = {}            # every relation/type/constraint name used
        self.tables = []
        self.enums = []
        self.views = []
        self.functions = []        # (name, signature)
        self.pending = []          # follow-up migrations (callables)
        self.counter = 0
        self.in_tx = False
        self.migration_no = 0
        self.ts = (2019, 1, 7, 9, 0)
        self.audit = None
        self.group_left = 0
        self.reset_after = False
        self.continued = False

    # ---- output helpers ----------------------------------------------------
    def emit(self, kind, sql):
        self.out.append(sql + ";\n")
        self.nbytes += len(sql) + 2
        self.stmts += 1
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        self.kind_bytes[kind] = self.kind_bytes.get(kind, 0) + len(sql) + 2

    def raw(self, text):
        self.out.append(text)
        self.nbytes += len(text)

    def uniq(self, base):
        base = base[:59]
        name = base
        n = 2
        while name in self.names:
            name = "%s_%d" % (base[:56], n)
            n += 1
        self.names[name] = True
        return name

    def next_counter(self):
        self.counter += 1
        return self.counter

    def chance(self, p):
        return self.rng.random() < p

    def pick(self, seq):
        return seq[self.rng.randrange(len(seq))]

    # ---- values ------------------------------------------------------------
    def literal(self, col):
        r = self.rng
        k = col.kind
        if k == "fk":
            return str(r.randint(1, col.fk.rows))
        if k == "enum":
            return "'%s'" % self.pick(col.enum.values)
        if k == "status":
            return "'%s'" % self.pick(col.status_values)
        if k == "int":
            return str(r.randint(0, 500))
        if k == "num":
            return "%d.%02d" % (r.randint(0, 9999), r.randint(0, 99))
        if k == "rate":
            return "0.%04d" % r.randint(0, 2500)
        if k == "bool":
            return "true" if r.random() < 0.6 else "false"
        if k == "name":
            return "'%s %s'" % (self.pick(FIRST_NAMES), self.pick(LAST_NAMES))
        if k == "first":
            return "'%s'" % self.pick(FIRST_NAMES)
        if k == "last":
            return "'%s'" % self.pick(LAST_NAMES)
        if k == "text":
            words = [self.pick(WORDS) for _ in range(r.randint(1, 4))]
            s = " ".join(words).capitalize()
            if r.random() < 0.1:
                s = s + "'s"  # exercise quote escaping
            return "'%s'" % s.replace("'", "''")
        if k == "word":
            return "'%s'" % self.pick(WORDS)
        if k == "slug":
            return "'%s-%d'" % (self.pick(WORDS), self.next_counter())
        if k == "email":
            return "'%s.%d@example.com'" % (self.pick(FIRST_NAMES).lower(),
                                            self.next_counter())
        if k == "code2":
            return "'%s'" % self.pick(["US", "DE", "FR", "GB", "JP", "BR"])
        if k == "code3":
            return "'%s'" % self.pick(["USD", "EUR", "GBP", "JPY"])
        if k == "locale":
            return "'%s'" % self.pick(["en", "en-GB", "de", "fr", "ja"])
        if k == "tz":
            return "'%s'" % self.pick(["UTC", "Europe/Berlin",
                                       "America/New_York", "Asia/Tokyo"])
        if k == "phone":
            return "'+1555%07d'" % r.randint(0, 9999999)
        if k == "url":
            return "'https://%s.example.com/%s'" % (self.pick(WORDS),
                                                    self.pick(WORDS))
        if k in ("tstz", "ts"):
            y, m = self.pick(MONTHS[:60])
            return "'%04d-%02d-%02d %02d:%02d:00%s'" % (
                y, m, r.randint(1, 28), r.randint(0, 23), r.randint(0, 59),
                "+00" if k == "tstz" else "")
        if k == "date":
            y, m = self.pick(MONTHS[:60])
            return "'%04d-%02d-%02d'" % (y, m, r.randint(1, 28))
        if k == "jsonb":
            return "'{\"%s\": %d}'" % (self.pick(WORDS), r.randint(0, 99))
        if k == "uuid":
            return "'%s'" % uuid.UUID(int=r.getrandbits(128), version=4)
        if k == "inet":
            return "'10.%d.%d.%d'" % (r.randint(0, 255), r.randint(0, 255),
                                      r.randint(1, 254))
        if k == "bytea":
            return "'\\x%08x'" % r.getrandbits(32)
        if k == "textarr":
            return "'{%s,%s}'" % (self.pick(WORDS), self.pick(WORDS))
        if k == "interval":
            return "'%d %s'" % (r.randint(1, 90),
                                self.pick(["minutes", "hours", "days"]))
        if k == "float":
            return "%d.%d" % (r.randint(0, 100), r.randint(0, 9))
        raise ValueError(k)

    def default_sql(self, col):
        """A constant default suitable for the column (for backfills)."""
        if col.kind == "status":
            return "'%s'" % col.status_values[0]
        if col.kind == "enum":
            return "'%s'" % col.enum.values[0]
        fixed = {"int": "0", "num": "0.00", "rate": "0.0000", "bool": "false",
                 "text": "''", "name": "''", "first": "''", "last": "''",
                 "word": "'unknown'", "code2": "'US'", "code3": "'USD'",
                 "locale": "'en'", "tz": "'UTC'", "jsonb": "'{}'::jsonb",
                 "textarr": "'{}'", "tstz": "now()",
                 "ts": "'2020-01-01 00:00:00'", "date": "CURRENT_DATE",
                 "interval": "'0 seconds'", "float": "0", "inet": "'0.0.0.0'",
                 "bytea": "''::bytea", "url": "''", "phone": "''"}
        return fixed.get(col.kind)

    # ---- picking ------------------------------------------------------------
    def plain_tables(self):
        return [t for t in self.tables if not t.partitioned]

    def random_table(self, pred=None, plain=True):
        cands = [t for t in self.tables
                 if (not plain or not t.partitioned) and (pred is None or pred(t))]
        if not cands:
            return None
        # recent tables are touched more often than ancient ones
        if self.chance(0.5):
            cands = cands[-12:]
        return self.pick(cands)

    def free_col(self, t, pred=None):
        cands = [c for c in t.cols
                 if c.locks == 0 and not c.pk and not c.identity
                 and not c.generated and c.kind != "fk"
                 and (pred is None or pred(c))]
        return self.pick(cands) if cands else None

    def new_col_name(self, t, base):
        name = base
        n = 2
        while t.col(name) is not None:
            name = "%s_%d" % (base, n)
            n += 1
        return name

    # ---- column construction ----------------------------------------------
    def make_column(self, t, for_create):
        tpl = self.pick(COLUMN_TEMPLATES)
        name, typ, kind, opts = tpl
        name = self.new_col_name(t, name)
        col = Column(name, typ, kind)
        parts = [name, typ]
        checks = []
        if kind == "status":
            col.status_values = self.pick(STATUS_SETS)
        d = opts.get("default")
        want_default = d is not None and self.chance(0.8)
        if want_default:
            col.default = ("'%s'" % col.status_values[0]) if d == "status" else d
        not_null = False
        if col.default is not None and self.chance(0.6):
            not_null = True
        elif for_create and self.chance(0.25) and not opts.get("unique"):
            not_null = True
            # a NOT NULL column without default in a new table
        if not_null:
            parts.append("NOT NULL")
            col.nullable = False
        if col.default is not None:
            parts.append("DEFAULT " + col.default)
        if opts.get("unique") and self.chance(0.5):
            col.unique = True
            if for_create:
                parts.append("UNIQUE")
        if kind == "status" and self.chance(0.7):
            checks.append("CHECK (%s IN (%s))" % (
                name, ", ".join("'%s'" % v for v in col.status_values)))
        if opts.get("check_nonneg") and self.chance(0.6):
            checks.append("CHECK (%s >= 0)" % name)
        if opts.get("check_len") and self.chance(0.5):
            checks.append("CHECK (char_length(%s) <= %d)" % (
                name, opts["check_len"]))
        return col, parts, checks

    # ---- migrations -------------------------------------------------------
    def header(self, slug):
        # Several changes often ship in one migration file: only the first
        # one gets a header (and the lock_timeout prologue).
        if self.group_left > 0:
            self.group_left -= 1
            self.continued = True
            return
        self.continued = False
        self.group_left = self.pick(self.GROUPING)
        self.migration_no += 1
        y, mo, d, h, mi = self.ts
        mi += self.rng.randint(1, 50)
        h += mi // 60
        mi %= 60
        d += h // 24
        h %= 24
        if d > 28:
            d -= 28
            mo += 1
        if mo > 12:
            mo -= 12
            y += 1
        self.ts = (y, mo, d, h, mi)
        # concatenated files: only some of them start with a comment
        self.raw("\n-- %04d_%s\n" % (self.migration_no, slug[:36].rstrip("_"))
                 if self.chance(0.1 if self.terse else 0.3) else "\n")

    GROUPING = [0, 0, 0, 0, 1, 2]

    def begin(self, allow_tx=True):
        if self.continued:
            return
        if allow_tx and self.chance(self.tx_share):
            self.emit("begin", "BEGIN")
            self.in_tx = True
            if self.chance(0.8):
                self.emit("set", "SET LOCAL lock_timeout = '%s'" %
                          self.pick(["2s", "3s", "5s", "10s"]))
                if self.chance(0.25):
                    self.emit("set", "SET LOCAL statement_timeout = '%s'" %
                              self.pick(["30s", "60s", "5min"]))
        elif self.chance(0.6):
            self.emit("set", "SET lock_timeout = '%s'" %
                      self.pick(["1s", "2s", "3s", "5s", "10s"]))
            self.reset_after = self.chance(0.5)
            if self.chance(0.15):
                self.emit("set", "SET statement_timeout = '%s'" %
                          self.pick(["30s", "5min", "15min"]))

    def end(self):
        if self.in_tx:
            self.emit("commit", self.pick(["COMMIT", "COMMIT", "END"]))
            self.in_tx = False
        if self.reset_after:
            self.emit("set", "RESET lock_timeout")
            self.reset_after = False

    # -- bootstrap ----------------------------------------------------------
    def bootstrap(self):
        self.raw("-- Synthetic migration history generated by "
                 "benches/gen_corpus.py (seed-stable).\n"
                 "-- Every statement is valid PostgreSQL 15, in order.\n")
        self.header("bootstrap")
        self.emit("set", "SET client_min_messages = warning")
        self.emit("do", "DO $$\nBEGIN\n    CREATE ROLE app_readonly NOLOGIN;\n"
                  "EXCEPTION WHEN duplicate_object THEN\n    NULL;\nEND\n$$")
        self.emit("schema", "CREATE SCHEMA IF NOT EXISTS reporting")
        self.names["set_updated_at"] = True
        self.emit("function",
                  "CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger\n"
                  "LANGUAGE plpgsql AS $$\nBEGIN\n"
                  "    NEW.updated_at := now();\n    RETURN NEW;\nEND;\n$$")
        self.functions.append(("set_updated_at", "()"))
        self.header("create_audit_log")
        t = Table(self.uniq("audit_log"))
        t.core = True
        t.cols = [Column("id", "bigint", "int", nullable=False, identity=True,
                         pk=True),
                  Column("table_name", "text", "word", nullable=False),
                  Column("operation", "text", "word", nullable=False),
                  Column("row_data", "jsonb", "jsonb"),
                  Column("changed_at", "timestamptz", "tstz", nullable=False,
                         default="now()")]
        for c in t.cols:
            c.locks += 1
        self.emit("create_table",
                  "CREATE TABLE %s (\n"
                  "    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
                  "    table_name text NOT NULL,\n"
                  "    operation text NOT NULL,\n"
                  "    row_data jsonb,\n"
                  "    changed_at timestamptz NOT NULL DEFAULT now()\n)" % t.name)
        self.tables.append(t)
        self.audit = t
        self.names["audit_row_change"] = True
        self.emit("function",
                  "CREATE OR REPLACE FUNCTION audit_row_change() RETURNS trigger\n"
                  "LANGUAGE plpgsql AS $body$\nBEGIN\n"
                  "    INSERT INTO %s (table_name, operation, row_data)\n"
                  "    VALUES (TG_TABLE_NAME, TG_OP,\n"
                  "            CASE WHEN TG_OP = 'DELETE' THEN to_jsonb(OLD)"
                  " ELSE to_jsonb(NEW) END);\n"
                  "    RETURN NULL;\nEND;\n$body$" % t.name)
        self.functions.append(("audit_row_change", "()"))
        self.emit("index", "CREATE INDEX %s ON %s (table_name, changed_at)" % (
            self.uniq("idx_audit_log_table_changed"), t.name))

    # -- create table -------------------------------------------------------
    def m_create_table(self):
        base = None
        for _ in range(50):
            cand = self.pick(TABLE_PREFIXES[:1] if self.chance(0.8)
                             else TABLE_PREFIXES) + self.pick(TABLE_NOUNS)
            if cand not in self.names:
                base = cand
                break
        if base is None:
            base = "%s_%d" % (self.pick(TABLE_NOUNS), self.next_counter())
        name = self.uniq(base)
        self.header("create_" + name)
        self.begin()
        t = Table(name)
        lines = []
        r = self.rng.random()
        if r < 0.6:
            t.pk_kind = "identity"
            lines.append("id bigint GENERATED %s AS IDENTITY PRIMARY KEY" %
                         self.pick(["ALWAYS", "BY DEFAULT"]))
            idc = Column("id", "bigint", "int", False, identity=True, pk=True)
        elif r < 0.8:
            t.pk_kind = "bigserial"
            lines.append("id bigserial PRIMARY KEY")
            idc = Column("id", "bigint", "int", False, identity=True, pk=True)
        else:
            t.pk_kind = "uuid"
            lines.append("id uuid PRIMARY KEY DEFAULT gen_random_uuid()")
            idc = Column("id", "uuid", "uuid", False, default="gen_random_uuid()",
                         identity=True, pk=True)
        idc.locks += 1
        t.cols.append(idc)
        # inline foreign keys to existing parents
        parents = [p for p in self.plain_tables()
                   if p.pk_kind != "uuid" and not p.core]
        table_checks = []
        for _ in range(self.pick([0, 0, 1, 1, 1, 2])):
            if not parents:
                break
            p = self.pick(parents[-25:])
            cname = self.new_col_name(t, singular(p.name) + "_id")
            nn = self.chance(0.6)
            c = Column(cname, "bigint", "fk", nullable=not nn, fk=p)
            c.locks += 1
            p.incoming_fks += 1
            action = self.pick(["", "", " ON DELETE CASCADE",
                                " ON DELETE SET NULL" if not nn else "",
                                " ON DELETE RESTRICT"])
            lines.append("%s bigint%s REFERENCES %s (id)%s" % (
                cname, " NOT NULL" if nn else "", p.name, action))
            t.cols.append(c)
        for _ in range(self.rng.randint(2, 3 if self.terse else 5)):
            col, parts, checks = self.make_column(t, True)
            t.cols.append(col)
            if checks and self.chance(0.5):
                cn = self.uniq("chk_%s_%s" % (name, col.name))
                table_checks.append("CONSTRAINT %s %s" % (cn, checks[0]))
                t.constraints.append(Constraint(cn, "check", [col.name]))
                checks = checks[1:]
            lines.append(" ".join(parts + checks))
        has_ts = self.chance(0.85)
        if has_ts:
            for cname in ("created_at", "updated_at"):
                c = Column(cname, "timestamptz", "tstz", False, default="now()")
                c.locks += 1
                t.cols.append(c)
                lines.append("%s timestamptz NOT NULL DEFAULT now()" % cname)
        # composite unique on (fk, slug-like)
        fkc = [c for c in t.cols if c.kind == "fk"]
        uq = [c for c in t.cols if c.unique and c.kind in ("slug", "email")]
        if fkc and uq and self.chance(0.5):
            cn = self.uniq("uq_%s_%s_%s" % (name, fkc[0].name, uq[0].name))
            table_checks.append("CONSTRAINT %s UNIQUE (%s, %s)" % (
                cn, fkc[0].name, uq[0].name))
            uq[0].locks += 1
            t.constraints.append(Constraint(cn, "unique",
                                            [fkc[0].name, uq[0].name]))
        lines.extend(table_checks)
        ine = "IF NOT EXISTS " if self.chance(0.3) else ""
        self.emit("create_table", "CREATE TABLE %s%s (\n    %s\n)" % (
            ine, name, ",\n    ".join(lines)))
        self.tables.append(t)
        # indexes on the new (empty) table: plain CREATE INDEX is fine here
        for c in fkc:
            iname = self.uniq("idx_%s_%s" % (name, c.name))
            self.emit("index", "CREATE INDEX %s ON %s (%s)" % (iname, name, c.name))
            t.indexes.append(Index(iname, [c.name]))
        em = [c for c in t.cols if c.kind == "email"]
        if em and self.chance(0.7):
            iname = self.uniq("idx_%s_lower_%s" % (name, em[0].name))
            self.emit("index", "CREATE UNIQUE INDEX %s ON %s (lower(%s))" % (
                iname, name, em[0].name))
            t.indexes.append(Index(iname, [em[0].name], unique=True))
            em[0].unique = True
        if self.chance(0.2 if self.terse else 0.5):
            self.emit("comment", "COMMENT ON TABLE %s IS '%s'" % (
                name, self.comment_text(name)))
        if has_ts and self.chance(0.55):
            self.emit("trigger",
                      "CREATE TRIGGER %s BEFORE UPDATE ON %s\n"
                      "    FOR EACH ROW EXECUTE FUNCTION set_updated_at()" % (
                          self.uniq("trg_%s_updated_at" % name), name))
            t.has_updated_trigger = True
        if self.chance(0.2):
            self.emit("grant", "GRANT SELECT ON %s TO app_readonly" % name)
        self.end()
        if self.chance(0.5):
            self.pending.append((self.rng.randint(1, 6),
                                 lambda t=t: self.m_seed(t)))

    def comment_text(self, tname):
        s = self.pick(COMMENT_PHRASES).format(
            t=tname.replace("_", " "), n=self.rng.randint(2, 40))
        return s.replace("'", "''")

    def m_create_partitioned(self):
        name = self.uniq("%s_events" % self.pick(
            ["page", "audit", "usage", "billing", "click", "search", "api",
             "login", "metric", "job"]))
        self.header("create_" + name)
        t = Table(name)
        t.partitioned = True
        t.pk_kind = "identity"
        idc = Column("id", "bigint", "int", False, identity=True, pk=True)
        occ = Column("occurred_at", "timestamptz", "tstz", False)
        occ.locks += 1
        idc.locks += 1
        acc = Column("actor", "text", "word")
        pl = Column("payload", "jsonb", "jsonb", False, default="'{}'::jsonb")
        t.cols = [idc, occ, acc, pl]
        self.emit("create_table",
                  "CREATE TABLE %s (\n"
                  "    id bigserial,\n"
                  "    occurred_at timestamptz NOT NULL,\n"
                  "    actor text,\n"
                  "    payload jsonb NOT NULL DEFAULT '{}'::jsonb,\n"
                  "    PRIMARY KEY (id, occurred_at)\n"
                  ") PARTITION BY RANGE (occurred_at)" % name)
        self.tables.append(t)
        start = self.rng.randrange(0, 40)
        for i in range(self.rng.randint(2, 4)):
            self.add_partition(t, MONTHS[start + i])
        iname = self.uniq("idx_%s_occurred_at" % name)
        self.emit("index", "CREATE INDEX %s ON %s (occurred_at)" % (iname, name))
        t.indexes.append(Index(iname, ["occurred_at"]))

    def add_partition(self, t, ym):
        y, m = ym
        ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
        pname = self.uniq("%s_%04d_%02d" % (t.name, y, m))
        self.emit("partition",
                  "CREATE TABLE %s PARTITION OF %s\n"
                  "    FOR VALUES FROM ('%04d-%02d-01') TO ('%04d-%02d-01')" % (
                      pname, t.name, y, m, ny, nm))
        t.partitions.append([pname, ym, True])

    def m_partition_maintenance(self):
        t = self.random_table(lambda t: t.partitioned and t.partitions,
                              plain=False)
        if t is None:
            return self.m_create_partitioned()
        self.header("partitions_" + t.name)
        last = max(p[1] for p in t.partitions)
        idx = MONTHS.index(last)
        if idx + 1 < len(MONTHS):
            self.add_partition(t, MONTHS[idx + 1])
        attached = [p for p in t.partitions if p[2]]
        if len(attached) > 3 and self.chance(0.5):
            old = attached[0]
            self.emit("detach", "ALTER TABLE %s DETACH PARTITION %s CONCURRENTLY"
                      % (t.name, old[0]))
            old[2] = False
            self.emit("drop_table", "DROP TABLE %s" % old[0])
            t.partitions.remove(old)
        if self.chance(0.5):
            rows = []
            live = [p for p in t.partitions if p[2]]
            for _ in range(self.rng.randint(1, 4)):
                y, m = self.pick(live)[1]
                rows.append("('%04d-%02d-%02d 12:00:00+00', %s)" % (
                    y, m, self.rng.randint(1, 28), self.literal(t.col("actor"))))
            self.emit("insert", "INSERT INTO %s (occurred_at, actor) VALUES\n    %s"
                      % (t.name, ",\n    ".join(rows)))

    # -- add column ---------------------------------------------------------
    def m_add_column(self):
        t = self.random_table(plain=False)
        col, parts, checks = self.make_column(t, False)
        if t.partitioned:
            parts = [col.name, col.type]
            col.default = None
            col.nullable = True
            checks = []
        elif not col.nullable and col.default is None:
            # NOT NULL without default only works while the table is empty
            if t.rows > 0:
                parts = [p for p in parts if p != "NOT NULL"]
                col.nullable = True
        col.unique = False
        if col.nullable and col.default is None and t.rows > 0:
            col.may_have_nulls = True
        self.header("add_%s_to_%s" % (col.name, t.name))
        self.begin()
        ine = "IF NOT EXISTS " if self.chance(0.25) else ""
        self.emit("add_column", "ALTER TABLE %s ADD COLUMN %s%s" % (
            t.name, ine, " ".join(parts)))
        t.cols.append(col)
        if checks and self.chance(0.5):
            cn = self.uniq("chk_%s_%s" % (t.name, col.name))
            self.emit("add_constraint", "ALTER TABLE %s ADD CONSTRAINT %s %s NOT VALID"
                      % (t.name, cn, checks[0]))
            t.constraints.append(Constraint(cn, "check", [col.name], False))
            self.pending.append((self.rng.randint(1, 5),
                                 lambda t=t, cn=cn: self.m_validate(t, cn)))
        if self.chance(0.3):
            self.emit("comment", "COMMENT ON COLUMN %s.%s IS '%s'" % (
                t.name, col.name, self.comment_text(t.name)))
        # a second column in the same migration, often
        if self.chance(0.15 if self.terse else 0.35) and not t.partitioned:
            col2, parts2, _ = self.make_column(t, False)
            if not col2.nullable and col2.default is None:
                parts2 = [p for p in parts2 if p != "NOT NULL"]
                col2.nullable = True
            col2.unique = False
            if col2.nullable and col2.default is None and t.rows > 0:
                col2.may_have_nulls = True
            self.emit("add_column", "ALTER TABLE %s ADD COLUMN %s" % (
                t.name, " ".join(parts2)))
            t.cols.append(col2)
        self.end()
        if col.may_have_nulls and self.chance(0.5) and not t.partitioned:
            self.pending.append((self.rng.randint(1, 8),
                                 lambda t=t, c=col: self.m_backfill_not_null(t, c)))

    def m_add_generated(self):
        t = self.random_table(lambda t: any(
            c.kind in ("first", "last", "name", "email") and not c.generated
            and c.locks == 0 for c in t.cols) and not t.core)
        if t is None:
            return self.m_add_column()
        src = [c for c in t.cols if c.kind in ("first", "last", "name", "email")
               and not c.generated and c.locks == 0][0]
        name = self.new_col_name(t, "%s_normalized" % src.name)
        self.header("add_%s_to_%s" % (name, t.name))
        self.emit("add_column",
                  "ALTER TABLE %s ADD COLUMN %s text GENERATED ALWAYS AS "
                  "(lower(btrim(%s))) STORED" % (t.name, name, src.name))
        src.locks += 1
        c = Column(name, "text", "text", generated=True)
        c.locks += 1
        t.cols.append(c)

    # -- indexes ------------------------------------------------------------
    def m_add_index(self):
        t = self.random_table(lambda t: len(t.cols) > 2)
        cands = [c for c in t.cols if not c.pk and c.kind not in
                 ("jsonb", "textarr", "bytea")]
        if not cands:
            return self.m_comment()
        c = self.pick(cands)
        self.header("index_%s_%s" % (t.name, c.name))
        conc = self.chance(0.8)
        if not conc:
            self.begin()
        else:
            if self.chance(0.4):
                self.emit("set", "SET lock_timeout = '0'")
        cols = [c.name]
        others = [o for o in cands if o is not c]
        if others and self.chance(0.3):
            cols.append(self.pick(others).name)
        keyexpr = ", ".join(cols)
        uses = list(cols)
        if self.chance(0.25) and "created_at" in t.col_names() \
                and "created_at" not in cols:
            keyexpr += ", created_at DESC"
            uses.append("created_at")
        where = ""
        if "deleted_at" in t.col_names() and "deleted_at" not in uses \
                and self.chance(0.5):
            where = " WHERE deleted_at IS NULL"
            uses.append("deleted_at")
        elif c.kind == "status" and self.chance(0.5):
            where = " WHERE %s = '%s'" % (c.name, c.status_values[0])
        include = ""
        inc = [o for o in others if o.name not in uses]
        if inc and self.chance(0.15):
            ic = self.pick(inc)
            include = " INCLUDE (%s)" % ic.name
            uses.append(ic.name)
        iname = self.uniq("idx_%s_%s" % (t.name, "_".join(cols)))
        self.emit("index", "CREATE INDEX %s%s%s ON %s %s(%s)%s%s" % (
            "CONCURRENTLY " if conc else "",
            "IF NOT EXISTS " if self.chance(0.3) else "",
            iname, t.name,
            "USING btree " if self.chance(0.1) else "",
            keyexpr, include, where))
        t.indexes.append(Index(iname, uses))
        if not conc:
            self.end()
        if self.chance(0.15):
            self.emit("analyze", "ANALYZE %s" % t.name)

    def m_add_gin_index(self):
        t = self.random_table(lambda t: any(c.kind in ("jsonb", "textarr")
                                            for c in t.cols))
        if t is None:
            return self.m_add_index()
        c = self.pick([c for c in t.cols if c.kind in ("jsonb", "textarr")])
        self.header("gin_index_%s_%s" % (t.name, c.name))
        iname = self.uniq("idx_%s_%s_gin" % (t.name, c.name))
        opclass = " jsonb_path_ops" if c.kind == "jsonb" and self.chance(0.5) else ""
        self.emit("index", "CREATE INDEX CONCURRENTLY %s ON %s USING gin (%s%s)" % (
            iname, t.name, c.name, opclass))
        t.indexes.append(Index(iname, [c.name]))

    def m_drop_index(self):
        t = self.random_table(lambda t: any(not i.unique for i in t.indexes))
        if t is None:
            return self.m_add_index()
        i = self.pick([i for i in t.indexes if not i.unique])
        self.header("drop_" + i.name)
        self.emit("drop_index", "DROP INDEX %s%s" % (
            self.pick(["CONCURRENTLY IF EXISTS ", "CONCURRENTLY ", "IF EXISTS "]),
            i.name))
        t.indexes.remove(i)

    def m_unique_using_index(self):
        t = self.random_table(lambda t: t.rows == 0 or any(
            c.unique for c in t.cols))
        cands = [c for c in t.cols if c.unique and c.locks == 0
                 and c.kind in ("slug", "email", "uuid")] if t else []
        if not cands:
            # add a fresh uuid column with a volatile default, then index it
            t = self.random_table(lambda t: not t.core)
            name = self.new_col_name(t, "public_id")
            self.header("add_%s_to_%s" % (name, t.name))
            self.emit("add_column",
                      "ALTER TABLE %s ADD COLUMN %s uuid NOT NULL DEFAULT "
                      "gen_random_uuid()" % (t.name, name))
            c = Column(name, "uuid", "uuid", False, default="gen_random_uuid()",
                       unique=True)
            t.cols.append(c)
        else:
            c = self.pick(cands)
            self.header("unique_%s_%s" % (t.name, c.name))
        iname = self.uniq("uq_%s_%s" % (t.name, c.name))
        self.emit("index", "CREATE UNIQUE INDEX CONCURRENTLY %s ON %s (%s)" % (
            iname, t.name, c.name))
        self.emit("add_constraint",
                  "ALTER TABLE %s ADD CONSTRAINT %s UNIQUE USING INDEX %s" % (
                      t.name, iname, iname))
        t.constraints.append(Constraint(iname, "unique", [c.name]))
        c.locks += 1

    # -- constraints --------------------------------------------------------
    def m_add_fk(self):
        child = self.random_table(lambda t: not t.core)
        parents = [p for p in self.plain_tables()
                   if p.pk_kind != "uuid" and p is not child and not p.core]
        if not parents:
            return self.m_add_column()
        p = self.pick(parents)
        cname = self.new_col_name(child, singular(p.name) + "_id")
        self.header("add_%s_to_%s" % (cname, child.name))
        self.begin(allow_tx=False)
        self.emit("add_column", "ALTER TABLE %s ADD COLUMN %s bigint" % (
            child.name, cname))
        c = Column(cname, "bigint", "fk", fk=p)
        c.locks += 1
        child.cols.append(c)
        iname = self.uniq("idx_%s_%s" % (child.name, cname))
        self.emit("index", "CREATE INDEX CONCURRENTLY %s ON %s (%s)" % (
            iname, child.name, cname))
        child.indexes.append(Index(iname, [cname]))
        fkname = self.uniq("fk_%s_%s" % (child.name, cname))
        self.emit("add_constraint",
                  "ALTER TABLE %s ADD CONSTRAINT %s\n"
                  "    FOREIGN KEY (%s) REFERENCES %s (id)%s NOT VALID" % (
                      child.name, fkname, cname, p.name,
                      self.pick(["", " ON DELETE SET NULL", " ON DELETE CASCADE"])))
        p.incoming_fks += 1
        child.constraints.append(Constraint(fkname, "fk", [cname], False))
        if self.chance(0.3):
            self.emit("validate", "ALTER TABLE %s VALIDATE CONSTRAINT %s" % (
                child.name, fkname))
            child.constraints[-1].validated = True
        else:
            self.pending.append((self.rng.randint(1, 4),
                                 lambda t=child, n=fkname: self.m_validate(t, n)))
        if p.rows > 0 and child.rows > 0 and self.chance(0.6):
            self.pending.append((self.rng.randint(1, 5),
                                 lambda t=child, c=c: self.m_backfill_fk(t, c)))

    def m_validate(self, t, cname):
        if t not in self.tables:
            return
        con = [x for x in t.constraints if x.name == cname and not x.validated]
        if not con:
            return
        self.header("validate_" + cname)
        self.begin()
        self.emit("validate", "ALTER TABLE %s VALIDATE CONSTRAINT %s" % (
            t.name, cname))
        con[0].validated = True
        self.end()

    def m_add_check(self):
        t = self.random_table(lambda t: not t.core)
        cands = [c for c in t.cols if c.locks == 0 and not c.generated and
                 c.kind in ("int", "num", "text", "name", "status") and not c.pk]
        if not cands:
            return self.m_add_column()
        c = self.pick(cands)
        if c.kind in ("int", "num"):
            expr = "%s >= 0" % c.name
        elif c.kind == "status":
            expr = "%s IN (%s)" % (c.name, ", ".join(
                "'%s'" % v for v in c.status_values))
        else:
            expr = "char_length(%s) <= 1000" % c.name
        cn = self.uniq("chk_%s_%s" % (t.name, c.name))
        self.header("add_" + cn)
        self.begin()
        self.emit("add_constraint",
                  "ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s) NOT VALID" % (
                      t.name, cn, expr))
        t.constraints.append(Constraint(cn, "check", [c.name], False))
        self.end()
        self.pending.append((self.rng.randint(1, 4),
                             lambda t=t, n=cn: self.m_validate(t, n)))

    def m_drop_constraint(self):
        t = self.random_table(lambda t: any(x.kind == "check" and x.validated
                                            for x in t.constraints))
        if t is None:
            return self.m_add_check()
        con = self.pick([x for x in t.constraints
                         if x.kind == "check" and x.validated])
        self.header("drop_" + con.name)
        self.begin()
        self.emit("drop_constraint", "ALTER TABLE %s DROP CONSTRAINT %s%s" % (
            t.name, "IF EXISTS " if self.chance(0.4) else "", con.name))
        t.constraints.remove(con)
        self.end()

    # -- NOT NULL / backfills -----------------------------------------------
    def m_backfill_not_null(self, t, c):
        if t not in self.tables or c not in t.cols or not c.nullable \
                or c.locks or c.unique:
            return
        val = self.default_sql(c)
        if val is None:
            return
        self.header("backfill_%s_%s" % (t.name, c.name))
        if self.chance(0.5):
            self.emit("set", "SET statement_timeout = '%s'" %
                      self.pick(["5min", "15min", "30min"]))
        if self.chance(0.4):
            self.emit("update",
                      "UPDATE %s SET %s = %s\n"
                      "WHERE id IN (SELECT id FROM %s WHERE %s IS NULL LIMIT %d)" %
                      (t.name, c.name, val, t.name, c.name,
                       self.pick([1000, 5000, 10000])))
        self.emit("update", "UPDATE %s SET %s = %s WHERE %s IS NULL" % (
            t.name, c.name, val, c.name))
        c.may_have_nulls = False
        if self.chance(0.5) and c.default is None and self.default_sql(c) \
                not in ("now()", "CURRENT_DATE"):
            self.emit("alter_column", "ALTER TABLE %s ALTER COLUMN %s SET DEFAULT %s"
                      % (t.name, c.name, val))
            c.default = val
        if self.chance(0.6):
            # PG12+ safe pattern: validated CHECK lets SET NOT NULL skip the scan
            cn = self.uniq("chk_%s_%s_not_null" % (t.name, c.name))
            self.emit("add_constraint",
                      "ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s IS NOT NULL) NOT VALID"
                      % (t.name, cn, c.name))
            self.emit("validate", "ALTER TABLE %s VALIDATE CONSTRAINT %s" % (
                t.name, cn))
            self.emit("alter_column", "ALTER TABLE %s ALTER COLUMN %s SET NOT NULL"
                      % (t.name, c.name))
            self.emit("drop_constraint", "ALTER TABLE %s DROP CONSTRAINT %s" % (
                t.name, cn))
        else:
            self.emit("alter_column", "ALTER TABLE %s ALTER COLUMN %s SET NOT NULL"
                      % (t.name, c.name))
        c.nullable = False
        if self.chance(0.5):
            self.emit("analyze", "ANALYZE %s" % t.name)
        if self.chance(0.3):
            self.emit("set", "RESET statement_timeout")

    def m_backfill_fk(self, t, c):
        if t not in self.tables or c not in t.cols or c.fk not in self.tables:
            return
        if c.fk.rows == 0:
            return
        self.header("backfill_%s_%s" % (t.name, c.name))
        self.emit("update",
                  "UPDATE %s SET %s = (SELECT min(id) FROM %s)\nWHERE %s IS NULL" % (
                      t.name, c.name, c.fk.name, c.name))

    def m_data_fix(self):
        t = self.random_table(lambda t: t.rows > 0 and not t.core)
        if t is None:
            return self.m_seed()
        c = self.free_col(t, lambda c: c.kind in (
            "int", "bool", "status", "text", "word", "tstz", "jsonb", "name"))
        if c is None:
            return self.m_comment()
        self.header("fix_%s_%s" % (t.name, c.name))
        self.begin()
        val = self.literal(c)
        r = self.rng.random()
        cols = t.col_names()
        if c.kind == "status" and r < 0.5:
            where = "%s = '%s'" % (c.name, self.pick(c.status_values))
        elif "created_at" in cols and r < 0.7:
            where = "created_at < '%04d-%02d-01'" % self.pick(MONTHS[:60])
        elif "deleted_at" in cols and r < 0.85:
            where = "deleted_at IS NOT NULL"
        elif c.nullable:
            where = "%s IS NULL" % c.name
        else:
            where = "id IN (SELECT id FROM %s ORDER BY id LIMIT %d)" % (
                t.name, self.rng.randint(10, 500))
        sets = ["%s = %s" % (c.name, val)]
        if "updated_at" in cols and self.chance(0.5):
            sets.append("updated_at = now()")
        self.emit("update", "UPDATE %s SET %s WHERE %s" % (
            t.name, ", ".join(sets), where))
        self.end()

    # -- seeds --------------------------------------------------------------
    def m_seed(self, t=None):
        if t is None:
            t = self.random_table(lambda t: not t.core)
        if t is None or t not in self.tables or t.partitioned:
            return
        for c in t.cols:
            if c.kind == "fk" and not c.nullable and c.fk.rows == 0:
                return self.m_seed(c.fk) if c.fk is not t else None
        self.header("seed_" + t.name)
        self.begin()
        n_stmts = 1 if self.terse else self.pick([1, 1, 1, 2, 3])
        for _ in range(n_stmts):
            cols = []
            for c in t.cols:
                if c.identity or c.generated:
                    continue
                if c.kind == "fk":
                    if c.fk.rows > 0 and (not c.nullable or self.chance(0.7)):
                        cols.append(c)
                    continue
                if not c.nullable and c.default is None:
                    cols.append(c)
                elif len(cols) < 2 and self.chance(0.3):
                    cols.append(c)
            nrows = self.pick([1, 1, 2] if self.terse else [1, 1, 1, 2, 3])
            rows = []
            for _ in range(nrows):
                rows.append("(%s)" % ", ".join(self.literal(c) for c in cols))
            if cols:
                sql = "INSERT INTO %s (%s) VALUES%s%s" % (
                    t.name, ", ".join(c.name for c in cols),
                    " " if nrows == 1 else "\n    ", ",\n    ".join(rows))
                if self.chance(0.2):
                    sql += "\nON CONFLICT DO NOTHING"
                self.emit("insert", sql)
                t.rows += nrows
            else:
                self.emit("insert", "INSERT INTO %s DEFAULT VALUES" % t.name)
                t.rows += 1
        self.end()
        for c in t.cols:
            if c.nullable and c.default is None:
                c.may_have_nulls = True

    # -- column changes -----------------------------------------------------
    def m_alter_type(self):
        t = self.random_table(lambda t: not t.core and any(
            c.type in ALTER_TYPE_MAP and c.locks == 0 and not c.pk and
            c.kind != "fk" and not c.generated for c in t.cols), plain=False)
        if t is None:
            return self.m_add_column()
        c = self.free_col(t, lambda c: c.type in ALTER_TYPE_MAP)
        new = self.pick(ALTER_TYPE_MAP[c.type])
        if t.partitioned:
            return self.m_add_column()
        self.header("alter_%s_%s_type" % (t.name, c.name))
        self.begin()
        using = ""
        if self.chance(0.3):
            if c.type == "timestamp" and new == "timestamptz":
                using = " USING %s AT TIME ZONE 'UTC'" % c.name
            else:
                using = " USING %s::%s" % (c.name, new)
        self.emit("alter_column", "ALTER TABLE %s ALTER COLUMN %s TYPE %s%s" % (
            t.name, c.name, new, using))
        c.type = new
        if new == "timestamptz":
            c.kind = "tstz"
        self.end()

    def m_set_default(self):
        t = self.random_table(lambda t: not t.core)
        c = self.free_col(t, lambda c: self.default_sql(c) is not None and
                          not c.unique)
        if c is None:
            return self.m_add_column()
        self.header("default_%s_%s" % (t.name, c.name))
        self.begin()
        if c.default is not None and c.nullable and self.chance(0.4):
            self.emit("alter_column", "ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT"
                      % (t.name, c.name))
            c.default = None
        else:
            v = self.literal(c) if self.chance(0.5) else self.default_sql(c)
            if c.kind == "ts" and v == "now()":
                v = "CURRENT_TIMESTAMP"
            self.emit("alter_column", "ALTER TABLE %s ALTER COLUMN %s SET DEFAULT %s"
                      % (t.name, c.name, v))
            c.default = v
        self.end()

    def m_drop_not_null(self):
        t = self.random_table(lambda t: not t.core)
        c = self.free_col(t, lambda c: not c.nullable)
        if c is None:
            return self.m_set_default()
        self.header("relax_%s_%s" % (t.name, c.name))
        self.begin()
        self.emit("alter_column", "ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL" % (
            t.name, c.name))
        c.nullable = True
        self.end()

    def drop_col_state(self, t, c):
        t.cols.remove(c)
        t.indexes = [i for i in t.indexes if c.name not in i.cols]
        t.constraints = [x for x in t.constraints if c.name not in x.cols]

    def m_drop_column(self):
        t = self.random_table(lambda t: not t.core and len(t.cols) > 4,
                              plain=False)
        if t is None:
            return self.m_add_column()
        c = self.free_col(t)
        if c is None or t.partitioned:
            return self.m_add_column()
        self.header("drop_%s_from_%s" % (c.name, t.name))
        self.begin()
        self.emit("drop_column", "ALTER TABLE %s DROP COLUMN %s%s" % (
            t.name, "IF EXISTS " if self.chance(0.4) else "", c.name))
        self.drop_col_state(t, c)
        self.end()

    def m_rename(self):
        r = self.rng.random()
        if r < 0.55:
            t = self.random_table(lambda t: not t.core)
            c = self.free_col(t)
            if c is None:
                return self.m_add_column()
            new = self.new_col_name(t, self.pick(
                ["%s_old", "legacy_%s", "%s_v2", "%s_value", "primary_%s"]) % c.name)
            if len(new) > 60:
                return self.m_comment()
            self.header("rename_%s_%s" % (t.name, c.name))
            self.begin()
            self.emit("rename", "ALTER TABLE %s RENAME COLUMN %s TO %s" % (
                t.name, c.name, new))
            for i in t.indexes:
                i.cols = [new if x == c.name else x for x in i.cols]
            for x in t.constraints:
                x.cols = [new if y == c.name else y for y in x.cols]
            c.name = new
            self.end()
        elif r < 0.8:
            t = self.random_table(lambda t: not t.core and not t.partitioned)
            if t is None:
                return self.m_comment()
            base = t.name
            for pre in TABLE_PREFIXES[1:]:
                if base.startswith(pre):
                    base = base[len(pre):]
                    break
            new = self.uniq(self.pick(TABLE_PREFIXES[1:]) + base)
            self.header("rename_%s_to_%s" % (t.name, new))
            self.begin()
            self.emit("rename", "ALTER TABLE %s%s RENAME TO %s" % (
                "IF EXISTS " if self.chance(0.2) else "", t.name, new))
            t.name = new
            self.end()
        else:
            t = self.random_table(lambda t: len(t.indexes) > 0)
            if t is None:
                return self.m_add_index()
            i = self.pick(t.indexes)
            new = self.uniq(i.name + "_" + self.pick(["v2", "new", "tmp", "b"]))
            self.header("rename_" + i.name)
            self.emit("rename", "ALTER INDEX %s RENAME TO %s" % (i.name, new))
            for x in t.constraints:
                if x.name == i.name:
                    x.name = new
            i.name = new

    def m_drop_table(self):
        cands = [t for t in self.tables if not t.core and t.incoming_fks == 0
                 and t.views == 0 and t.functions == 0]
        if not cands:
            return self.m_create_table()
        t = self.pick(cands)
        self.header("drop_" + t.name)
        self.begin()
        self.emit("drop_table", "DROP TABLE %s%s" % (
            "IF EXISTS " if self.chance(0.5) else "", t.name))
        self.tables.remove(t)
        for c in t.cols:
            if c.kind == "fk":
                c.fk.incoming_fks -= 1
        self.end()

    def m_legacy_table(self):
        """Copy-and-swap tables that are created then dropped later."""
        src = self.random_table(lambda t: not t.core and t.rows > 0)
        if src is None:
            return self.m_create_table()
        name = self.uniq("%s_backup_%d" % (src.name[:40], self.next_counter()))
        self.header("backup_" + src.name)
        self.begin()
        self.emit("create_table", "CREATE TABLE %s AS TABLE %s WITH DATA" % (
            name, src.name) if self.chance(0.5) else
            "CREATE TABLE %s (LIKE %s INCLUDING CONSTRAINTS)" % (name, src.name))
        self.end()
        self.pending.append((self.rng.randint(3, 15), lambda n=name: (
            self.header("drop_" + n),
            self.emit("drop_table", "DROP TABLE IF EXISTS %s" % n))))

    # -- views, functions, triggers ----------------------------------------
    def m_view(self):
        if self.views and self.chance(0.3):
            v = self.pick(self.views)
            if not v.materialized and v.table in self.tables and self.chance(0.6):
                return self.replace_view(v)
            self.header("drop_view_" + v.name)
            self.emit("drop_view", "DROP %sVIEW IF EXISTS %s" % (
                "MATERIALIZED " if v.materialized else "", v.name))
            self.views.remove(v)
            for tt, cn in v.deps:
                c = tt.col(cn)
                if c:
                    c.locks -= 1
            v.table.views -= 1
            if v.parent:
                v.parent.views -= 1
            return None
        t = self.random_table(lambda t: len(t.cols) > 3 and not t.core)
        if t is None:
            return self.m_create_table()
        cols = [c for c in t.cols if not c.generated and c.kind not in
                ("bytea",)]
        chosen = [t.col("id")] + self.rng.sample(cols, min(len(cols), 4))
        seen = []
        for c in chosen:
            if c not in seen:
                seen.append(c)
        chosen = seen
        fk = [c for c in t.cols if c.kind == "fk" and c.fk in self.tables]
        parent = None
        if fk and self.chance(0.5):
            fkc = self.pick(fk)
            parent = fkc.fk
            if fkc not in chosen:
                chosen.append(fkc)
        materialized = parent is not None and self.chance(0.3)
        vname = self.uniq(("mv_" if materialized else "v_") + t.name[:50] +
                          self.pick(["", "_summary", "_active", "_report"]))
        self.header("create_view_" + vname)
        deps = [(t, c.name) for c in chosen]
        if materialized:
            sql = ("CREATE MATERIALIZED VIEW %s AS\n"
                   "SELECT c.%s AS parent_id, count(*) AS row_count\n"
                   "FROM %s c\nGROUP BY c.%s\nWITH DATA") % (
                       vname, fkc.name, t.name, fkc.name)
            deps = [(t, fkc.name)]
            self.emit("create_view", sql)
            iname = self.uniq("uq_%s_parent" % vname)
            self.emit("index", "CREATE UNIQUE INDEX %s ON %s (parent_id)" % (
                iname, vname))
            if self.chance(0.5):
                self.emit("refresh", "REFRESH MATERIALIZED VIEW CONCURRENTLY %s"
                          % vname)
        else:
            sel = ["t.%s" % c.name for c in chosen]
            frm = "%s t" % t.name
            if parent is not None:
                pcols = [c for c in parent.cols if c.name != "id" and
                         not c.generated][:2]
                for pc in pcols:
                    sel.append("p.%s AS %s_%s" % (
                        pc.name, parent.name[:20], pc.name))
                    deps.append((parent, pc.name))
                frm += "\n%sJOIN %s p ON p.id = t.%s" % (
                    "LEFT " if self.chance(0.5) else "", parent.name, fkc.name)
            where = ""
            if "deleted_at" in t.col_names():
                where = "\nWHERE t.deleted_at IS NULL"
                deps.append((t, "deleted_at"))
            select = [c.name for c in chosen]
            self.emit("create_view", "CREATE %sVIEW %s AS\nSELECT %s\nFROM %s%s" % (
                "OR REPLACE " if self.chance(0.5) else "", vname,
                ",\n       ".join(sel), frm, where))
        for tt, cn in deps:
            tt.col(cn).locks += 1
        v = View(vname, t, deps, materialized, parent,
                 select=[] if materialized else select,
                 where_deleted=bool(not materialized and where))
        t.views += 1
        if parent is not None:
            parent.views += 1
        self.views.append(v)
        if self.chance(0.4):
            self.emit("comment", "COMMENT ON %sVIEW %s IS '%s'" % (
                "MATERIALIZED " if materialized else "", vname,
                self.comment_text(t.name)))
        if self.chance(0.3):
            self.emit("grant", "GRANT SELECT ON %s TO app_readonly" % vname)

    def replace_view(self, v):
        t = v.table
        # append one more column; the existing ones must stay as they are
        extra = [c for c in t.cols if c.name not in v.select and not c.generated
                 and c.kind != "bytea"]
        if not extra or v.parent is not None:
            return self.m_comment()
        c = self.pick(extra)
        self.header("replace_view_" + v.name)
        sel = ["t.%s" % cn for cn in v.select + [c.name]]
        where = "\nWHERE t.deleted_at IS NULL" if v.where_deleted else ""
        self.emit("create_view", "CREATE OR REPLACE VIEW %s AS\nSELECT %s\nFROM %s t%s"
                  % (v.name, ",\n       ".join(sel), t.name, where))
        v.select.append(c.name)
        v.deps.append((t, c.name))
        c.locks += 1

    def m_function(self):
        t = self.random_table(lambda t: not t.core and t.pk_kind != "uuid" and
                              not t.partitioned)
        if t is None:
            return self.m_create_table()
        r = self.rng.random()
        if r < 0.4:
            fk = [c for c in t.cols if c.kind == "fk"]
            if fk:
                c = self.pick(fk)
                fname = self.uniq("%s_count_by_%s" % (t.name[:30], c.name[:25]))
                self.header("create_function_" + fname)
                self.emit("function",
                          "CREATE OR REPLACE FUNCTION %s(p_id bigint)\n"
                          "RETURNS bigint\nLANGUAGE sql STABLE PARALLEL SAFE\nAS $$\n"
                          "    SELECT count(*) FROM %s WHERE %s = p_id\n$$" % (
                              fname, t.name, c.name))
                c.locks += 1
                t.functions += 1
                self.functions.append((fname, "(bigint)"))
            else:
                fname = self.uniq("%s_total" % t.name[:40])
                self.header("create_function_" + fname)
                self.emit("function",
                          "CREATE OR REPLACE FUNCTION %s()\n"
                          "RETURNS bigint\nLANGUAGE sql STABLE\nAS $$\n"
                          "    SELECT count(*) FROM %s\n$$" % (fname, t.name))
                t.functions += 1
                self.functions.append((fname, "()"))
        elif r < 0.8:
            fname = self.uniq("archive_stale_%s" % t.name[:40])
            self.header("create_function_" + fname)
            self.emit("function",
                      "CREATE OR REPLACE FUNCTION %s(p_before timestamptz,"
                      " p_batch integer DEFAULT 1000)\n"
                      "RETURNS integer\nLANGUAGE plpgsql\nAS $fn$\n"
                      "DECLARE\n    v_count integer := 0;\nBEGIN\n"
                      "    IF p_batch <= 0 THEN\n"
                      "        RAISE EXCEPTION 'batch size must be positive, got %%',"
                      " p_batch;\n    END IF;\n"
                      "    UPDATE %s SET archived_at = now()\n"
                      "    WHERE id IN (\n"
                      "        SELECT id FROM %s\n"
                      "        WHERE created_at < p_before AND archived_at IS NULL\n"
                      "        ORDER BY id\n        LIMIT p_batch\n    );\n"
                      "    GET DIAGNOSTICS v_count = ROW_COUNT;\n"
                      "    RAISE NOTICE 'archived %% rows from %s', v_count;\n"
                      "    RETURN v_count;\nEND;\n$fn$" % (
                          fname, t.name, t.name, t.name))
            self.functions.append((fname, "(timestamptz, integer)"))
        else:
            if not self.functions or len(self.functions) < 4:
                return self.m_comment()
            fname, sig = self.pick(self.functions[2:])
            self.header("comment_function_" + fname)
            self.emit("comment", "COMMENT ON FUNCTION %s%s IS '%s'" % (
                fname, sig, self.comment_text(fname)))
            return None
        if self.chance(0.3):
            self.emit("comment", "COMMENT ON FUNCTION %s%s IS '%s'" % (
                self.functions[-1][0], self.functions[-1][1],
                self.comment_text(t.name)))

    def m_trigger(self):
        r = self.rng.random()
        if r < 0.5:
            t = self.random_table(lambda t: not t.core and not t.has_audit_trigger
                                  and not t.partitioned)
            if t is None:
                return self.m_comment()
            self.header("audit_" + t.name)
            self.begin()
            tname = self.uniq("trg_%s_audit" % t.name[:45])
            self.emit("trigger",
                      "CREATE TRIGGER %s\n    AFTER INSERT OR UPDATE OR DELETE ON %s\n"
                      "    FOR EACH ROW EXECUTE FUNCTION audit_row_change()" % (
                          tname, t.name))
            t.has_audit_trigger = True
            self.end()
        elif r < 0.8:
            t = self.random_table(lambda t: not t.core and not t.partitioned and
                                  any(c.kind == "status" for c in t.cols))
            if t is None:
                return self.m_comment()
            c = self.pick([c for c in t.cols if c.kind == "status"])
            fname = self.uniq("%s_%s_changed" % (t.name[:35], c.name))
            self.header("trigger_" + fname)
            self.emit("function",
                      "CREATE FUNCTION %s() RETURNS trigger\n"
                      "LANGUAGE plpgsql AS $$\nBEGIN\n"
                      "    PERFORM pg_notify('%s', json_build_object(\n"
                      "        'id', NEW.id, 'old', OLD.%s, 'new', NEW.%s)::text);\n"
                      "    RETURN NEW;\nEND;\n$$" % (fname, t.name, c.name, c.name))
            self.functions.append((fname, "()"))
            tname = self.uniq("trg_" + fname)
            self.emit("trigger",
                      "CREATE TRIGGER %s\n    AFTER UPDATE OF %s ON %s\n"
                      "    FOR EACH ROW\n"
                      "    WHEN (OLD.%s IS DISTINCT FROM NEW.%s)\n"
                      "    EXECUTE FUNCTION %s()" % (
                          tname, c.name, t.name, c.name, c.name, fname))
            c.locks += 1
            t.functions += 1
        else:
            t = self.random_table(lambda t: t.has_updated_trigger)
            if t is None:
                return self.m_comment()
            self.header("recreate_updated_at_" + t.name)
            self.begin()
            tname = self.uniq("trg_%s_touch" % t.name[:45])
            self.emit("trigger", "DROP TRIGGER IF EXISTS %s ON %s" % (
                tname, t.name))
            self.emit("trigger",
                      "CREATE TRIGGER %s BEFORE UPDATE ON %s\n"
                      "    FOR EACH ROW EXECUTE FUNCTION set_updated_at()" % (
                          tname, t.name))
            self.end()

    def m_enum(self):
        unused = [e for e in ENUM_DEFS if e[0] not in self.names]
        if unused and (not self.enums or self.chance(0.3)):
            name, values = unused[0]
            self.names[name] = True
            self.header("create_type_" + name)
            self.emit("create_type", "CREATE TYPE %s AS ENUM (%s)" % (
                name, ", ".join("'%s'" % v for v in values)))
            e = EnumType(name, values)
            self.enums.append(e)
            t = self.random_table(lambda t: not t.core)
            if t is not None:
                short = name.split("_")[-1]
                cname = self.new_col_name(
                    t, name if short in ("interval", "level", "method") else short)
                nn = self.chance(0.5)
                self.emit("add_column", "ALTER TABLE %s ADD COLUMN %s %s%s DEFAULT '%s'"
                          % (t.name, cname, name, " NOT NULL" if nn else "",
                             values[0]))
                c = Column(cname, name, "enum", not nn, "'%s'" % values[0], enum=e)
                t.cols.append(c)
            return None
        if not self.enums:
            return self.m_comment()
        e = self.pick(self.enums)
        extra = [v for v in ENUM_EXTRA_VALUES if v not in e.values]
        if not extra:
            return self.m_comment()
        v = self.pick(extra)
        self.header("extend_type_" + e.name)
        if self.chance(0.15):
            old = self.pick(e.values[1:])
            self.emit("alter_type", "ALTER TYPE %s RENAME VALUE '%s' TO '%s'" % (
                e.name, old, v))
            e.values[e.values.index(old)] = v
            return None
        pos = ""
        if self.chance(0.3):
            pos = " BEFORE '%s'" % e.values[-1]
        self.emit("alter_type", "ALTER TYPE %s ADD VALUE IF NOT EXISTS '%s'%s" % (
            e.name, v, pos))
        e.values.append(v)

    def m_sequence(self):
        t = self.random_table(lambda t: not t.core and not t.partitioned)
        if t is None:
            return self.m_comment()
        sname = self.uniq("%s_number_seq" % t.name[:45])
        cname = self.new_col_name(t, "number")
        self.header("add_%s_to_%s" % (cname, t.name))
        self.emit("sequence", "CREATE SEQUENCE %s START WITH %d INCREMENT BY 1" % (
            sname, self.pick([1, 1000, 10000, 100000])))
        self.emit("add_column",
                  "ALTER TABLE %s ADD COLUMN %s bigint NOT NULL DEFAULT nextval('%s')"
                  % (t.name, cname, sname))
        self.emit("sequence", "ALTER SEQUENCE %s OWNED BY %s.%s" % (
            sname, t.name, cname))
        c = Column(cname, "bigint", "int", False, default="nextval('%s')" % sname)
        c.locks += 1
        t.cols.append(c)

    def m_comment(self):
        t = self.random_table(plain=False)
        self.header("document_" + t.name)
        for _ in range(self.pick([1, 1, 2] if self.terse else [1, 2, 2, 3, 4])):
            if self.chance(0.3):
                self.emit("comment", "COMMENT ON TABLE %s IS '%s'" % (
                    t.name, self.comment_text(t.name)))
            elif t.indexes and self.chance(0.15):
                self.emit("comment", "COMMENT ON INDEX %s IS '%s'" % (
                    self.pick(t.indexes).name, self.comment_text(t.name)))
            else:
                c = self.pick(t.cols)
                txt = "NULL" if self.chance(0.05) else "'%s'" % self.comment_text(
                    t.name)
                self.emit("comment", "COMMENT ON COLUMN %s.%s IS %s" % (
                    t.name, c.name, txt))

    def m_misc(self):
        t = self.random_table(lambda t: not t.core)
        if t is None:
            return self.m_comment()
        self.header("tune_" + t.name)
        r = self.rng.random()
        if r < 0.3:
            self.emit("storage", "ALTER TABLE %s SET (%s)" % (t.name, self.pick([
                "fillfactor = 90", "autovacuum_vacuum_scale_factor = 0.05",
                "autovacuum_analyze_scale_factor = 0.02"])))
        elif r < 0.5:
            c = self.pick(t.cols)
            self.emit("storage", "ALTER TABLE %s ALTER COLUMN %s SET STATISTICS %d"
                      % (t.name, c.name, self.pick([200, 500, 1000])))
        elif r < 0.7:
            self.emit("grant", "GRANT SELECT%s ON %s TO app_readonly" % (
                self.pick(["", ", INSERT", ", UPDATE"]), t.name))
        elif r < 0.85:
            self.emit("analyze", "ANALYZE %s" % t.name)
        else:
            self.emit("delete", "DELETE FROM %s WHERE changed_at < now() - "
                      "interval '%d days'" % (self.audit.name,
                                              self.pick([90, 180, 365])))

    # -- main loop ----------------------------------------------------------
    WEIGHTS = [
        ("m_create_table", 4.0),
        ("m_add_column", 16.0),
        ("m_add_generated", 0.5),
        ("m_add_index", 9.0),
        ("m_add_gin_index", 1.2),
        ("m_drop_index", 3.0),
        ("m_unique_using_index", 1.0),
        ("m_add_fk", 4.0),
        ("m_add_check", 2.5),
        ("m_drop_constraint", 1.0),
        ("m_data_fix", 5.0),
        ("m_seed", 5.0),
        ("m_alter_type", 3.5),
        ("m_set_default", 3.5),
        ("m_drop_not_null", 1.5),
        ("m_drop_column", 3.5),
        ("m_rename", 3.0),
        ("m_drop_table", 0.9),
        ("m_legacy_table", 0.6),
        ("m_view", 2.2),
        ("m_function", 1.6),
        ("m_trigger", 1.2),
        ("m_enum", 0.6),
        ("m_sequence", 0.5),
        ("m_partition_maintenance", 1.0),
        ("m_comment", 3.5),
        ("m_misc", 4.0),
    ]

    # Small, frequent changes; used while the file is ahead of its byte budget
    # so that statement count and size land near their targets together.
    LIGHT_WEIGHTS = [
        ("m_add_column", 6.0),
        ("m_add_check", 2.0),
        ("m_drop_index", 2.0),
        ("m_set_default", 2.0),
        ("m_drop_not_null", 1.0),
        ("m_drop_column", 2.0),
        ("m_rename", 1.5),
        ("m_misc", 3.0),
        ("m_comment", 2.0),
    ]

    def run(self):
        self.bootstrap()
        for _ in range(6):
            self.m_create_table()
        names = [n for n, _ in self.WEIGHTS]
        weights = [w for _, w in self.WEIGHTS]
        light_names = [n for n, _ in self.LIGHT_WEIGHTS]
        light_weights = [w for _, w in self.LIGHT_WEIGHTS]
        while self.stmts < self.target:
            # due follow-ups first (validate, backfill, drop backup...)
            due = [p for p in self.pending if p[0] <= 0]
            self.pending = [(n - 1, f) for n, f in self.pending if n > 0]
            for _, f in due:
                f()
                self.end()
            # steer towards --bytes: first write tersely (fewer optional
            # columns, rows and comments), and only if that is not enough,
            # favour small changes for a while
            budget = self.target_bytes * self.stmts / float(self.target)
            self.terse = bool(self.target_bytes) and self.nbytes > budget
            if self.terse and self.nbytes > budget * 1.02:
                name = self.rng.choices(light_names, light_weights)[0]
                self.light_picks += 1
            else:
                name = self.rng.choices(names, weights)[0]
            getattr(self, name)()
            self.end()
        return "".join(self.out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", nargs="?", default=DEFAULT_OUT,
                    help="output path (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--statements", type=int, default=DEFAULT_STATEMENTS,
                    help="stop after at least this many statements "
                         "(default: %(default)s)")
    ap.add_argument("--bytes", type=int, default=DEFAULT_BYTES,
                    help="approximate size to steer towards, 0 = unsteered "
                         "(default: %(default)s)")
    ap.add_argument("--tx-share", type=float, default=0.85,
                    help="share of transactional migrations wrapped in "
                         "BEGIN/COMMIT (default: %(default)s)")
    ap.add_argument("--stats", action="store_true",
                    help="also print the statement mix")
    args = ap.parse_args(argv)

    corpus = Corpus(args.seed, args.statements, args.bytes, args.tx_share)
    text = corpus.run()
    data = text.encode("utf-8")
    d = os.path.dirname(args.out)
    if d:
        os.makedirs(d, exist_ok=True)
    with open(args.out, "wb") as f:
        f.write(data)
    print("wrote %s: %d statements, %d bytes (%.1f KB), %d lines, %d migrations"
          % (args.out, corpus.stmts, len(data), len(data) / 1024.0,
             text.count("\n"), corpus.migration_no))
    if args.stats:
        print("  (%d of the changes were picked from the light mix to stay "
              "near --bytes)" % corpus.light_picks)
        for k, v in sorted(corpus.kinds.items(), key=lambda kv: -kv[1]):
            print("  %-16s %5d  %5.1f%%  %7d bytes" % (
                k, v, 100.0 * v / corpus.stmts, corpus.kind_bytes[k]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
