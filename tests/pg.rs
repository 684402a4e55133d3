//! PostgreSQL integration tests on a real server: catalog fingerprints, connections to a user's
//! server (URLs, sslmode, TLS with generated certificates, clear errors that never show the
//! password) and throwaway databases. The shared scratch cluster of `migsafe::pg::testing` serves
//! most tests, one fresh database each; the TLS tests start a cluster of their own with ssl on.

use std::sync::LazyLock;
use std::time::Instant;

use migsafe::pg::connect::{self, ConnectError, SslMode, Throwaway};
use migsafe::pg::fingerprint::{self, Exclude, Fingerprint};
use migsafe::pg::{Cluster, quote_ident, testing};

/// A small schema with one of every kind of object the fingerprint describes.
const RICH: &str = r#"
CREATE SCHEMA app;
COMMENT ON SCHEMA app IS 'Application objects';
CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN public.email_address AS text COLLATE "C" NOT NULL DEFAULT ''
    CONSTRAINT email_address_check CHECK (VALUE ~ '@' OR VALUE = '');
CREATE TYPE public.pair AS (a integer, b text COLLATE "C");
CREATE TYPE public.floatrange AS RANGE (subtype = float8);

CREATE TABLE public.accounts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email public.email_address NOT NULL UNIQUE,
    status text NOT NULL DEFAULT 'active',
    mood public.mood,
    created_at timestamptz NOT NULL DEFAULT now(),
    status_upper text GENERATED ALWAYS AS (upper(status)) STORED,
    owner name NOT NULL DEFAULT CURRENT_USER
);
CREATE INDEX accounts_created_idx ON public.accounts (created_at DESC);
COMMENT ON TABLE public.accounts IS 'Customer accounts';
COMMENT ON COLUMN public.accounts.email IS 'Login e-mail';
ALTER TABLE public.accounts ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON public.accounts FOR SELECT USING (owner = CURRENT_USER);

CREATE TABLE app.orders (
    id serial PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES public.accounts (id) ON DELETE CASCADE,
    amount numeric(12, 2) NOT NULL CONSTRAINT orders_amount_check CHECK (amount > 0),
    note varchar(200) COLLATE "C"
);
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.note := coalesce(NEW.note, 'none');
    RETURN NEW;
END
$$;
CREATE TRIGGER orders_touch BEFORE INSERT OR UPDATE ON app.orders
    FOR EACH ROW EXECUTE FUNCTION app.touch();
CREATE PROCEDURE app.archive(below integer) LANGUAGE sql AS $$ DELETE FROM app.orders WHERE id < below $$;
CREATE VIEW app.big_orders AS SELECT id, account_id, amount FROM app.orders WHERE amount > 1000;
CREATE MATERIALIZED VIEW app.order_totals AS
    SELECT account_id, sum(amount) AS total FROM app.orders GROUP BY account_id;
CREATE SEQUENCE public.invoice_no AS integer INCREMENT BY 10 MINVALUE 100 MAXVALUE 100000 START 100 CACHE 5 CYCLE;

CREATE TABLE public.events (id bigint NOT NULL, at date NOT NULL, payload jsonb) PARTITION BY RANGE (at);
CREATE TABLE public.events_2024 PARTITION OF public.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE INDEX events_at_idx ON public.events (at);
"#;

/// The same schema as [`RICH`], built in another order, with other statements, and with the
/// OIDs shifted by objects created and dropped on the way.
const RICH_REORDERED: &str = r#"
CREATE TABLE public.scratch (x int); DROP TABLE public.scratch;
CREATE TYPE public.floatrange AS RANGE (subtype = float8);
CREATE TYPE public.pair AS (a integer, b text COLLATE "C");
CREATE SCHEMA app;
CREATE DOMAIN public.email_address AS text COLLATE "C";
ALTER DOMAIN public.email_address SET NOT NULL;
ALTER DOMAIN public.email_address SET DEFAULT '';
ALTER DOMAIN public.email_address ADD CONSTRAINT email_address_check CHECK (VALUE ~ '@' OR VALUE = '');
CREATE TYPE public.mood AS ENUM ('sad', 'happy');
ALTER TYPE public.mood ADD VALUE 'ok' BEFORE 'happy';
CREATE SEQUENCE public.invoice_no AS integer INCREMENT BY 10 MINVALUE 100 MAXVALUE 100000 START 100 CACHE 5 CYCLE;
SELECT nextval('public.invoice_no');
CREATE TABLE public.events (id bigint NOT NULL, at date NOT NULL, payload jsonb) PARTITION BY RANGE (at);
CREATE INDEX events_at_idx ON public.events (at);
CREATE TABLE public.events_2024 (id bigint NOT NULL, at date NOT NULL, payload jsonb);
ALTER TABLE public.events ATTACH PARTITION public.events_2024 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE public.accounts (
    id bigint GENERATED ALWAYS AS IDENTITY,
    email public.email_address NOT NULL,
    dropped_later int,
    status text NOT NULL,
    mood public.mood,
    created_at timestamptz NOT NULL DEFAULT now(),
    status_upper text GENERATED ALWAYS AS (upper(status)) STORED,
    owner name NOT NULL DEFAULT CURRENT_USER
);
ALTER TABLE public.accounts DROP COLUMN dropped_later;
ALTER TABLE public.accounts ALTER COLUMN status SET DEFAULT 'active';
INSERT INTO public.accounts (email, status) VALUES ('a@b', 'x');
CREATE INDEX accounts_created_idx ON public.accounts (created_at DESC);
CREATE TABLE app.orders (
    id serial,
    account_id bigint NOT NULL,
    amount numeric(12, 2) NOT NULL,
    note varchar(200) COLLATE "C"
);
CREATE PROCEDURE app.archive(below integer) LANGUAGE sql AS $$ DELETE FROM app.orders WHERE id < below $$;
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.note := coalesce(NEW.note, 'none');
    RETURN NEW;
END
$$;
ALTER TABLE app.orders ADD CONSTRAINT orders_amount_check CHECK (amount > 0);
ALTER TABLE app.orders ADD PRIMARY KEY (id);
ALTER TABLE public.accounts ADD PRIMARY KEY (id), ADD UNIQUE (email);
ALTER TABLE app.orders ADD FOREIGN KEY (account_id) REFERENCES public.accounts (id) ON DELETE CASCADE;
CREATE MATERIALIZED VIEW app.order_totals AS
    SELECT account_id, sum(amount) AS total FROM app.orders GROUP BY account_id;
CREATE VIEW app.big_orders AS SELECT id, account_id, amount FROM app.orders WHERE amount > 1000;
CREATE TRIGGER orders_touch BEFORE INSERT OR UPDATE ON app.orders
    FOR EACH ROW EXECUTE FUNCTION app.touch();
CREATE POLICY own_rows ON public.accounts FOR SELECT USING (owner = CURRENT_USER);
ALTER TABLE public.accounts FORCE ROW LEVEL SECURITY;
ALTER TABLE public.accounts ENABLE ROW LEVEL SECURITY;
COMMENT ON COLUMN public.accounts.email IS 'Login e-mail';
COMMENT ON TABLE public.accounts IS 'Customer accounts';
COMMENT ON SCHEMA app IS 'Application objects';
"#;

fn database_with(prefix: &str, sql: &str) -> (String, postgres::Client) {
    let (name, mut client) = testing::fresh_database(prefix);
    client.batch_execute(sql).expect("build the test schema");
    (name, client)
}

fn fp(client: &mut postgres::Client) -> Fingerprint {
    fingerprint::fingerprint(client, &Exclude::default()).expect("fingerprint")
}

/// The fingerprint of [`RICH`], computed once.
static RICH_FP: LazyLock<Fingerprint> = LazyLock::new(|| fp(&mut database_with("fp_rich", RICH).1));

/// Builds [`RICH`], applies `change`, and returns the diff from RICH's fingerprint.
fn diff_after(change: &str) -> String {
    let (_, mut client) = database_with("fp_change", RICH);
    client.batch_execute(change).expect("apply the change");
    fingerprint::diff(&RICH_FP, &fp(&mut client))
}

/// The changed lines of a diff, without headers and context.
fn changed_lines(diff: &str) -> Vec<&str> {
    diff.lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect()
}

#[test]
fn fingerprint_equal_schemas_built_in_different_orders_are_equal() {
    let (_, mut other) = database_with("fp_reordered", RICH_REORDERED);
    let other = fp(&mut other);
    assert_eq!(fingerprint::diff(&RICH_FP, &other), "");
    assert_eq!(*RICH_FP, other);
}

#[test]
fn fingerprint_of_a_rich_schema() {
    insta::assert_snapshot!(RICH_FP.text);
}

#[test]
fn fingerprint_is_the_same_whatever_the_session_settings() {
    let (_, mut client) = database_with("fp_settings", RICH);
    client
        .batch_execute(
            "SET search_path = app, public; SET DateStyle = 'SQL, DMY'; SET TimeZone = 'Asia/Tokyo'; SET quote_all_identifiers = on",
        )
        .unwrap();
    assert_eq!(fingerprint::diff(&RICH_FP, &fp(&mut client)), "");
    // The settings were the session's and stay so.
    let path: String = client.query_one("SHOW search_path", &[]).unwrap().get(0);
    assert_eq!(path, "app, public");
}

#[test]
fn fingerprint_diff_of_several_changes() {
    let d = diff_after(
        "DROP INDEX public.accounts_created_idx;
         ALTER TABLE public.accounts ALTER COLUMN status SET DEFAULT 'closed';
CREATE OR REPLACE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.note := coalesce(NEW.note, 'n/a');
    RETURN NEW;
END
$$;",
    );
    insta::assert_snapshot!(d);
}

/// One test per kind of difference: the change must show in the diff, on the expected line.
macro_rules! detects {
    ($name:ident, $change:expr, $($expected:expr),+) => {
        #[test]
        fn $name() {
            let d = diff_after($change);
            assert!(!d.is_empty(), "no difference found");
            let changed = changed_lines(&d);
            $(
                assert!(
                    changed.iter().any(|l| l.contains($expected)),
                    "no changed line contains {:?}:\n{d}",
                    $expected
                );
            )+
        }
    };
}

/// A down that drops a column and adds it back: the same column, now last.
const MOVE_MOOD: &str = "ALTER TABLE public.accounts DROP COLUMN mood;
     ALTER TABLE public.accounts ADD COLUMN mood public.mood";

detects!(
    fingerprint_detects_a_missing_index,
    "DROP INDEX public.accounts_created_idx",
    "-index public.accounts_created_idx: CREATE INDEX accounts_created_idx ON public.accounts USING btree (created_at DESC)"
);
detects!(
    fingerprint_detects_an_invalid_index,
    "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'public.accounts_created_idx'::regclass",
    "+index public.accounts_created_idx invalid:"
);
detects!(
    fingerprint_detects_a_changed_default,
    "ALTER TABLE public.accounts ALTER COLUMN status SET DEFAULT 'closed'",
    "-column public.accounts.status: text default 'active'::text not null",
    "+column public.accounts.status: text default 'closed'::text not null"
);
detects!(
    fingerprint_detects_a_dropped_constraint,
    "ALTER TABLE app.orders DROP CONSTRAINT orders_amount_check",
    "-constraint app.orders.orders_amount_check: CHECK ((amount > (0)::numeric))"
);
detects!(
    fingerprint_detects_a_constraint_left_not_valid,
    "ALTER TABLE app.orders DROP CONSTRAINT orders_amount_check,
         ADD CONSTRAINT orders_amount_check CHECK (amount > 0) NOT VALID",
    "+constraint app.orders.orders_amount_check: CHECK ((amount > (0)::numeric)) NOT VALID"
);
detects!(
    fingerprint_detects_a_missing_enum_value,
    "ALTER TYPE public.mood RENAME TO mood_old;
     CREATE TYPE public.mood AS ENUM ('sad', 'ok');
     ALTER TABLE public.accounts ALTER COLUMN mood TYPE public.mood USING mood::text::public.mood;
     DROP TYPE public.mood_old",
    "+type public.mood: enum ('sad', 'ok')"
);
detects!(
    fingerprint_detects_reordered_enum_values,
    "ALTER TYPE public.mood RENAME TO mood_old;
     CREATE TYPE public.mood AS ENUM ('ok', 'sad', 'happy');
     ALTER TABLE public.accounts ALTER COLUMN mood TYPE public.mood USING mood::text::public.mood;
     DROP TYPE public.mood_old",
    "-type public.mood: enum ('sad', 'ok', 'happy')",
    "+type public.mood: enum ('ok', 'sad', 'happy')"
);
detects!(
    fingerprint_detects_a_changed_function_body,
    "CREATE OR REPLACE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
         NEW.note := coalesce(NEW.note, 'n/a');
         RETURN NEW;
     END
     $$",
    "'n/a'"
);
detects!(
    fingerprint_detects_a_disabled_trigger,
    "ALTER TABLE app.orders DISABLE TRIGGER orders_touch",
    "+trigger app.orders.orders_touch disabled:"
);
detects!(
    fingerprint_detects_a_changed_trigger,
    "DROP TRIGGER orders_touch ON app.orders;
     CREATE TRIGGER orders_touch BEFORE INSERT ON app.orders FOR EACH ROW EXECUTE FUNCTION app.touch()",
    "+trigger app.orders.orders_touch: CREATE TRIGGER orders_touch BEFORE INSERT ON app.orders"
);
detects!(
    fingerprint_detects_a_changed_view,
    "CREATE OR REPLACE VIEW app.big_orders AS
         SELECT id, account_id, amount FROM app.orders WHERE amount > 5000",
    "5000"
);
detects!(
    fingerprint_detects_a_changed_sequence_increment,
    "ALTER SEQUENCE public.invoice_no INCREMENT BY 20",
    "+sequence public.invoice_no: as integer start 100 increment 20"
);
detects!(
    fingerprint_detects_a_changed_comment,
    "COMMENT ON COLUMN public.accounts.email IS 'Where we write to'",
    "+comment on table column public.accounts.email: 'Where we write to'"
);
detects!(
    fingerprint_detects_a_dropped_comment,
    "COMMENT ON TABLE public.accounts IS NULL",
    "-comment on table public.accounts: 'Customer accounts'"
);
detects!(
    fingerprint_detects_an_rls_flag,
    "ALTER TABLE public.accounts NO FORCE ROW LEVEL SECURITY",
    "-table public.accounts row level security forced"
);
detects!(
    fingerprint_detects_a_changed_policy,
    "ALTER POLICY own_rows ON public.accounts USING (true)",
    "+policy public.accounts.own_rows: permissive for SELECT to PUBLIC using (true)"
);
detects!(
    fingerprint_detects_a_changed_column_type,
    "ALTER TABLE app.orders ALTER COLUMN note TYPE varchar(300)",
    "+column app.orders.note: character varying(300)"
);
detects!(
    fingerprint_detects_a_dropped_not_null,
    "ALTER TABLE public.accounts ALTER COLUMN created_at DROP NOT NULL",
    "+column public.accounts.created_at: timestamp with time zone default now()"
);
detects!(
    fingerprint_detects_a_changed_domain,
    "ALTER DOMAIN public.email_address DROP CONSTRAINT email_address_check;
     ALTER DOMAIN public.email_address DROP DEFAULT",
    "-domain constraint public.email_address.email_address_check:",
    "+domain public.email_address: text collate \"C\" not null"
);
detects!(
    fingerprint_detects_a_detached_partition,
    "ALTER TABLE public.events DETACH PARTITION public.events_2024",
    "-table public.events_2024 partition of public.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')"
);
detects!(
    fingerprint_detects_a_grant,
    "GRANT SELECT, UPDATE (status) ON public.accounts TO PUBLIC;
     REVOKE EXECUTE ON FUNCTION app.touch() FROM PUBLIC",
    "+grant SELECT on table public.accounts to PUBLIC",
    "+grant UPDATE on column public.accounts.status to PUBLIC",
    "+revoke EXECUTE on function app.touch() from PUBLIC"
);
detects!(
    fingerprint_detects_a_column_moved_to_the_end,
    MOVE_MOOD,
    "-table public.accounts column order: id, email, status, mood, created_at, status_upper, owner",
    "+table public.accounts column order: id, email, status, created_at, status_upper, owner, mood"
);

#[test]
fn fingerprint_reports_a_moved_column_on_the_order_line_only() {
    let d = diff_after(
        "ALTER TABLE public.accounts DROP COLUMN status CASCADE;
         ALTER TABLE public.accounts ADD COLUMN status text NOT NULL DEFAULT 'active';
         ALTER TABLE public.accounts ADD COLUMN status_upper text GENERATED ALWAYS AS (upper(status)) STORED;",
    );
    let changed = changed_lines(&d);
    assert!(changed.iter().all(|l| l.contains(" column order: ")), "{d}");
    let (_, mut client) = database_with("fp_moved", RICH);
    client.batch_execute(MOVE_MOOD).unwrap();
    let moved = fp(&mut client);
    assert_ne!(moved, *RICH_FP);
    assert_eq!(moved.without_column_order(), RICH_FP.without_column_order());
}

#[test]
fn fingerprint_covers_rules_statistics_aggregates_event_triggers_and_more() {
    let d = diff_after(
        r#"CREATE RULE no_delete AS ON DELETE TO app.orders DO INSTEAD NOTHING;
           ALTER TABLE app.orders DISABLE RULE no_delete;
           CREATE STATISTICS app.orders_stats (dependencies) ON account_id, amount FROM app.orders;
           CREATE AGGREGATE app.total(numeric) (sfunc = numeric_add, stype = numeric, initcond = '0');
           CREATE FUNCTION app.on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
           CREATE EVENT TRIGGER audit_ddl ON ddl_command_end WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE')
               EXECUTE FUNCTION app.on_ddl();
           ALTER EVENT TRIGGER audit_ddl DISABLE;
           CREATE UNLOGGED TABLE app.cache (k text PRIMARY KEY, v text) WITH (fillfactor = 70);
           ALTER TABLE app.cache ALTER COLUMN v SET STORAGE EXTERNAL, ALTER COLUMN v SET COMPRESSION pglz,
               ALTER COLUMN v SET STATISTICS 500;
           ALTER TABLE app.cache REPLICA IDENTITY FULL;
           CREATE TABLE app.child (extra int) INHERITS (app.cache);
           CREATE VIEW app.secure_orders WITH (security_barrier) AS SELECT id FROM app.orders;
           COMMENT ON FUNCTION app.touch() IS 'fills in the note';
           COMMENT ON CONSTRAINT orders_amount_check ON app.orders IS 'positive';
           COMMENT ON TRIGGER orders_touch ON app.orders IS 'fills notes';
           COMMENT ON POLICY own_rows ON public.accounts IS 'own rows only';
           COMMENT ON TYPE public.mood IS E'how it feels\nmultiline';
           GRANT USAGE ON TYPE public.mood TO PUBLIC;
           REVOKE USAGE ON TYPE public.pair FROM PUBLIC;
           CREATE ROLE fp_reader;
           GRANT SELECT ON public.invoice_no TO fp_reader WITH GRANT OPTION;"#,
    );
    let changed = changed_lines(&d);
    for expected in [
        "+rule app.orders.no_delete disabled: CREATE RULE no_delete AS ON DELETE TO app.orders DO INSTEAD NOTHING;",
        "+statistics app.orders_stats: CREATE STATISTICS app.orders_stats (dependencies) ON account_id, amount FROM app.orders",
        "+aggregate app.total(numeric): returns numeric kind n sfunc numeric_add stype numeric initcond '0'",
        "+event trigger audit_ddl disabled: on ddl_command_end when tag in ('ALTER TABLE', 'CREATE TABLE') execute function app.on_ddl",
        "+table app.cache unlogged",
        "+table app.cache options: fillfactor=70",
        "+table app.cache replica identity full",
        "+column app.cache.v: text storage external statistics 500 compression pglz",
        "+table app.child inherits app.cache",
        "+view app.secure_orders options: security_barrier=true",
        "+comment on function app.touch(): 'fills in the note'",
        "+comment on table constraint orders_amount_check on app.orders: 'positive'",
        "+comment on trigger orders_touch on app.orders: 'fills notes'",
        "+comment on policy own_rows on public.accounts: 'own rows only'",
        "+comment on type public.mood: 'how it feels\\nmultiline'",
        "+revoke USAGE on type public.pair from PUBLIC",
        "+grant SELECT (with grant option) on sequence public.invoice_no to fp_reader",
    ] {
        assert!(changed.contains(&expected), "missing {expected:?}:\n{d}");
    }
    // Granting what PUBLIC has by default changes nothing.
    assert!(!d.contains("on type public.mood to PUBLIC"), "{d}");
}

#[test]
fn fingerprint_ignores_objects_of_extensions() {
    let d = diff_after("CREATE EXTENSION pgcrypto; CREATE EXTENSION citext SCHEMA app");
    let changed = changed_lines(&d);
    assert_eq!(
        changed,
        vec![
            "+comment on extension citext: 'data type for case-insensitive character strings'",
            "+comment on extension pgcrypto: 'cryptographic functions'",
            "+extension citext version 1.6 schema app",
            "+extension pgcrypto version 1.3 schema public"
        ],
        "{d}"
    );
}

#[test]
fn fingerprint_ignores_excluded_tables_and_schemas() {
    let (_, mut client) = database_with("fp_excluded", RICH);
    client
        .batch_execute(
            r#"CREATE TABLE public._sqlx_migrations (version bigint PRIMARY KEY, description text NOT NULL);
               COMMENT ON TABLE public._sqlx_migrations IS 'runner history';
               CREATE TABLE public."Flyway History" (id serial PRIMARY KEY);
               GRANT SELECT ON public._sqlx_migrations TO PUBLIC;
               CREATE SCHEMA migsafe;
               CREATE TABLE migsafe.ledger (id bigserial PRIMARY KEY, at timestamptz DEFAULT now());
               CREATE FUNCTION migsafe.f() RETURNS int LANGUAGE sql AS 'SELECT 1';
               CREATE TEMP TABLE scratch (x int);"#,
        )
        .unwrap();
    let exclude = Exclude {
        objects: vec![
            "public._sqlx_migrations".into(),
            r#"public."Flyway History""#.into(),
            "migsafe.*".into(),
        ],
    };
    let got = fingerprint::fingerprint(&mut client, &exclude).unwrap();
    assert_eq!(fingerprint::diff(&RICH_FP, &got), "");
    // Without the exclusions they show.
    let all = fp(&mut client);
    assert!(all.text.contains("table public._sqlx_migrations\n"));
    assert!(
        all.text
            .contains("sequence public.\"Flyway History_id_seq\"")
    );
    assert!(all.text.contains("schema migsafe\n"));
}

#[test]
fn fingerprint_of_200_tables_is_fast() {
    let (_, mut client) = testing::fresh_database("fp_200");
    let mut sql = String::from(
        "CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;\n",
    );
    for i in 0..200 {
        let parent = if i > 0 {
            format!(", parent_id bigint REFERENCES public.t{} (id)", i - 1)
        } else {
            String::new()
        };
        sql.push_str(&format!(
            "CREATE TABLE public.t{i} (id bigserial PRIMARY KEY, name text NOT NULL DEFAULT '', \
             amount numeric(10, 2) CHECK (amount >= 0), created_at timestamptz NOT NULL DEFAULT now(), \
             tags text[]{parent});
             CREATE INDEX t{i}_created_idx ON public.t{i} (created_at);
             CREATE TRIGGER t{i}_touch BEFORE UPDATE ON public.t{i} FOR EACH ROW EXECUTE FUNCTION public.touch();
             COMMENT ON TABLE public.t{i} IS 'table {i}';\n"
        ));
    }
    client.batch_execute(&sql).unwrap();
    // Warm the catalog caches once, then measure.
    let first = fp(&mut client);
    let t0 = Instant::now();
    let runs = 5;
    for _ in 0..runs {
        assert_eq!(fp(&mut client), first);
    }
    let each = t0.elapsed() / runs;
    eprintln!(
        "fingerprint of 200 tables: {each:?} each ({} lines)",
        first.text.lines().count()
    );
    assert!(first.text.lines().count() > 200 * 10);
    assert!(
        each.as_secs_f64() < 2.0,
        "fingerprint of 200 tables took {each:?}"
    );
}

// ── connections ────────────────────────────────────────────────────────────────────────────

const SECRET: &str = "Pa55-w0rd-never-shown";

fn scratch_url(db: &str, params: &str) -> String {
    let c = testing::cluster();
    format!(
        "postgres://postgres:{SECRET}@{}:{}/{db}{params}",
        c.host(),
        c.port()
    )
}

fn uses_tls(client: &mut postgres::Client) -> bool {
    client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0)
}

/// The error of a connection that must fail.
fn connect_err(t: &connect::Target) -> ConnectError {
    match connect::connect(t) {
        Ok(_) => panic!("connected to {t}"),
        Err(e) => e,
    }
}

/// Display and Debug of an error, checked for the password.
fn shown(e: &ConnectError) -> String {
    let s = format!("{e}\n{e:?}");
    assert!(!s.contains(SECRET), "the password leaked: {s}");
    s
}

#[test]
fn connect_with_sslmode_disable_and_prefer_to_a_server_without_tls() {
    for mode in ["disable", "prefer", "allow"] {
        let t = connect::from_url(&scratch_url("postgres", &format!("?sslmode={mode}"))).unwrap();
        let mut client = connect::connect(&t).unwrap();
        assert!(!uses_tls(&mut client));
    }
    // Keyword form, default sslmode (prefer).
    let c = testing::cluster();
    let t = connect::from_url(&format!(
        "host={} port={} user=postgres dbname=postgres",
        c.host(),
        c.port()
    ))
    .unwrap();
    assert_eq!(t.sslmode(), SslMode::Prefer);
    connect::connect(&t).unwrap();
}

#[test]
fn connect_with_sslmode_require_to_a_server_without_tls_says_so() {
    for mode in ["require", "verify-ca", "verify-full"] {
        let params = format!("?sslmode={mode}&sslrootcert=%2Fnonexistent%2Froot.crt");
        let t = connect::from_url(&scratch_url("postgres", &params)).unwrap();
        let e = connect_err(&t);
        let s = shown(&e);
        match mode {
            // require does not need the root certificate unless it exists.
            "require" => {
                assert!(matches!(e, ConnectError::Tls { .. }), "{s}");
                assert!(s.contains("server does not support TLS"), "{s}");
                assert!(s.contains(":***@"), "{s}");
            }
            _ => {
                assert!(matches!(e, ConnectError::Tls { .. }), "{s}");
                assert!(s.contains("/nonexistent/root.crt does not exist"), "{s}");
            }
        }
    }
}

#[test]
fn connect_errors_are_clear_and_never_show_the_password() {
    // Nobody listens on a port just released — unless another process (a parallel test's
    // server) takes it in between: then try another.
    let (port, e) = (0..5)
        .map(|_| {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let t = connect::from_url(&format!(
                "postgres://app:{SECRET}@127.0.0.1:{port}/app?sslmode=disable&connect_timeout=5"
            ))
            .unwrap();
            (port, connect_err(&t))
        })
        .find(|(_, e)| matches!(e, ConnectError::Unreachable { .. }))
        .expect("a free port refuses connections");
    let s = shown(&e);
    assert!(matches!(e, ConnectError::Unreachable { .. }), "{s}");
    assert!(
        s.contains(&format!("postgres://app:***@127.0.0.1:{port}/app")),
        "{s}"
    );
    assert!(s.contains("refused"), "{s}");

    let t = connect::from_url(&scratch_url("no_such_db", "?sslmode=disable")).unwrap();
    let e = connect_err(&t);
    let s = shown(&e);
    assert!(
        matches!(&e, ConnectError::DatabaseMissing { database, .. } if database == "no_such_db"),
        "{s}"
    );

    let c = testing::cluster();
    let t = connect::from_url(&format!(
        "host={} port={} user=nobody_here password='{SECRET}' sslmode=disable",
        c.host(),
        c.port()
    ))
    .unwrap();
    let e = connect_err(&t);
    let s = shown(&e);
    assert!(matches!(e, ConnectError::AuthFailed { .. }), "{s}");
    assert!(s.contains("role \"nobody_here\" does not exist"), "{s}");
}

#[test]
fn throwaway_database_is_created_used_and_dropped() {
    let t = connect::from_url(&scratch_url("postgres", "?sslmode=disable")).unwrap();
    let mut throwaway = Throwaway::create(&t, "verify").unwrap();
    let name = throwaway.name().to_string();
    assert!(name.starts_with("migsafe_verify_"), "{name}");
    throwaway
        .client()
        .batch_execute("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
        .unwrap();
    let db: String = throwaway
        .client()
        .query_one("SELECT current_database()", &[])
        .unwrap()
        .get(0);
    assert_eq!(db, name);
    assert!(!format!("{throwaway:?}").contains(SECRET));
    // Another session on it does not keep it alive (WITH (FORCE)).
    let _other = connect::connect(throwaway.target()).unwrap();
    drop(throwaway);
    let mut admin = testing::cluster().connect("postgres").unwrap();
    let left: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname = $1",
            &[&name],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "{name} was not dropped");

    let throwaway = Throwaway::create(&t, "explicit").unwrap();
    let name = throwaway.name().to_string();
    throwaway.remove().unwrap();
    let left: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname = $1",
            &[&name],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}

#[test]
fn throwaway_copies_a_template() {
    let (template, client) = database_with(
        "tpl",
        "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)",
    );
    let t = connect::from_url(&scratch_url("postgres", "?sslmode=disable")).unwrap();
    // In use: a clear error.
    let e = Throwaway::create_from_template(&t, &template, "copy").unwrap_err();
    let s = shown(&e);
    assert!(matches!(e, ConnectError::TemplateInUse { .. }), "{s}");
    drop(client);
    // PostgreSQL ends a closed session asynchronously; retry briefly.
    let mut copy = None;
    for _ in 0..50 {
        match Throwaway::create_from_template(&t, &template, "copy") {
            Ok(c) => {
                copy = Some(c);
                break;
            }
            Err(ConnectError::TemplateInUse { .. }) => {
                std::thread::sleep(std::time::Duration::from_millis(100))
            }
            Err(e) => panic!("{e}"),
        }
    }
    let mut copy = copy.expect("the template stayed in use");
    let x: i32 = copy
        .client()
        .query_one("SELECT x FROM kept", &[])
        .unwrap()
        .get(0);
    assert_eq!(x, 42);

    let e = Throwaway::create_from_template(&t, "no_such_template", "copy").unwrap_err();
    assert!(
        matches!(&e, ConnectError::DatabaseMissing { database, .. } if database == "no_such_template"),
        "{e}"
    );
}

#[test]
fn throwaway_without_createdb_says_what_is_missing() {
    let role = format!("no_createdb_{}", std::process::id());
    let mut admin = testing::cluster().connect("postgres").unwrap();
    admin
        .batch_execute(&format!(
            "CREATE ROLE {} LOGIN NOCREATEDB",
            quote_ident(&role)
        ))
        .unwrap();
    let c = testing::cluster();
    let t = connect::from_url(&format!(
        "postgres://{role}:{SECRET}@{}:{}/postgres?sslmode=disable",
        c.host(),
        c.port()
    ))
    .unwrap();
    let e = Throwaway::create(&t, "verify").unwrap_err();
    let s = shown(&e);
    assert!(matches!(e, ConnectError::NoCreateDb { .. }), "{s}");
    assert!(s.contains("CREATEDB"), "{s}");
    assert!(s.contains(&role), "{s}");
}

// ── TLS, on a cluster of its own ───────────────────────────────────────────────────────────

/// A cluster with ssl on, a certificate for 127.0.0.1 signed by a generated CA, and a role that
/// must give its password (scram) over TLS.
/// The certificates live in the cluster's directory, which goes with the cluster.
struct Secure {
    cluster: Cluster,
}

const SECURE_USER: &str = "secure_app";

fn secure() -> &'static Secure {
    static SECURE: LazyLock<Secure> = LazyLock::new(|| {
        let cluster = Cluster::start().expect("start a cluster for the TLS tests");
        let dir = cluster.dir().join("client");
        std::fs::create_dir(&dir).unwrap();
        let (ca_pem, cert_pem, key_pem) = certificates("migsafe test CA", &["127.0.0.1"]);
        let (other_ca, _, _) = certificates("another CA", &["127.0.0.1"]);
        std::fs::write(dir.join("ca.pem"), ca_pem).unwrap();
        std::fs::write(dir.join("other-ca.pem"), other_ca).unwrap();
        // The server's files go next to its data, owned by the user it runs as, key 0600.
        let data = cluster.dir().join("data");
        let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&data).unwrap());
        let group = std::os::unix::fs::MetadataExt::gid(&std::fs::metadata(&data).unwrap());
        for (name, pem) in [("server.crt", &cert_pem), ("server.key", &key_pem)] {
            let path = data.join(name);
            std::fs::write(&path, pem).unwrap();
            std::os::unix::fs::chown(&path, Some(owner), Some(group)).unwrap();
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .unwrap();
        }
        // First match wins: the secure role must use TLS and a password.
        let hba = data.join("pg_hba.conf");
        let old = std::fs::read_to_string(&hba).unwrap();
        std::fs::write(
            &hba,
            format!(
                "hostssl all {SECURE_USER} 127.0.0.1/32 scram-sha-256\nhost all {SECURE_USER} 127.0.0.1/32 reject\n{old}"
            ),
        )
        .unwrap();
        let mut admin = cluster.connect("postgres").unwrap();
        // One statement at a time: ALTER SYSTEM refuses the implicit transaction of a batch.
        for sql in [
            "ALTER SYSTEM SET ssl = on".to_string(),
            "SET password_encryption = 'scram-sha-256'".to_string(),
            format!(
                "CREATE ROLE {} LOGIN PASSWORD '{SECRET}'",
                quote_ident(SECURE_USER)
            ),
            "SELECT pg_reload_conf()".to_string(),
        ] {
            admin.batch_execute(&sql).unwrap();
        }
        // The reload is asynchronous: wait until new sessions see ssl on.
        for _ in 0..100 {
            let mut c = cluster.connect("postgres").unwrap();
            let on: String = c.query_one("SHOW ssl", &[]).unwrap().get(0);
            if on == "on" {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Secure { cluster }
    });
    &SECURE
}

/// A CA named `ca_name` and a server certificate for `names` signed by it, as PEM: (ca, cert, key).
fn certificates(ca_name: &str, names: &[&str]) -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, ca_name);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, names[0]);
    let cert = params.signed_by(&key, &issuer).unwrap();
    (ca_cert.pem(), cert.pem(), key.serialize_pem())
}

fn secure_url(host: &str, password: &str, params: &str) -> String {
    let s = secure();
    format!(
        "postgres://{SECURE_USER}:{password}@{host}:{}/postgres?{params}",
        s.cluster.port()
    )
}

fn root(name: &str) -> String {
    let path = secure().cluster.dir().join("client").join(name);
    path.to_str().unwrap().replace('/', "%2F")
}

#[test]
fn tls_verify_full_checks_chain_and_host_name() {
    let t = connect::from_url(&secure_url(
        "127.0.0.1",
        SECRET,
        &format!("sslmode=verify-full&sslrootcert={}", root("ca.pem")),
    ))
    .unwrap();
    let mut client = connect::connect(&t).unwrap();
    assert!(uses_tls(&mut client));

    // The certificate names 127.0.0.1, not localhost.
    let t = connect::from_url(&secure_url(
        "localhost",
        SECRET,
        &format!("sslmode=verify-full&sslrootcert={}", root("ca.pem")),
    ))
    .unwrap();
    let e = connect_err(&t);
    let s = shown(&e);
    assert!(matches!(e, ConnectError::Tls { .. }), "{s}");
    assert!(s.to_lowercase().contains("not valid for name"), "{s}");

    // Signed by another CA.
    let t = connect::from_url(&secure_url(
        "127.0.0.1",
        SECRET,
        &format!("sslmode=verify-full&sslrootcert={}", root("other-ca.pem")),
    ))
    .unwrap();
    let e = connect_err(&t);
    let s = shown(&e);
    assert!(matches!(e, ConnectError::Tls { .. }), "{s}");
    assert!(s.contains("UnknownIssuer"), "{s}");
}

#[test]
fn tls_verify_ca_checks_the_chain_but_not_the_host_name() {
    let t = connect::from_url(&secure_url(
        "localhost",
        SECRET,
        &format!("sslmode=verify-ca&sslrootcert={}", root("ca.pem")),
    ))
    .unwrap();
    let mut client = connect::connect(&t).unwrap();
    assert!(uses_tls(&mut client));

    let t = connect::from_url(&secure_url(
        "localhost",
        SECRET,
        &format!("sslmode=verify-ca&sslrootcert={}", root("other-ca.pem")),
    ))
    .unwrap();
    let e = connect_err(&t);
    assert!(shown(&e).contains("UnknownIssuer"), "{e}");
}

#[test]
fn tls_require_and_prefer_encrypt_without_checking() {
    for mode in ["require", "prefer"] {
        let t = connect::from_url(&secure_url("127.0.0.1", SECRET, &format!("sslmode={mode}")))
            .unwrap();
        let mut client = connect::connect(&t).unwrap();
        assert!(uses_tls(&mut client), "{mode}");
    }
    // libpq: require with a root certificate given checks the chain.
    let t = connect::from_url(&secure_url(
        "127.0.0.1",
        SECRET,
        &format!("sslmode=require&sslrootcert={}", root("other-ca.pem")),
    ))
    .unwrap();
    connect_err(&t);
    // disable: the server refuses the role without TLS.
    let t = connect::from_url(&secure_url("127.0.0.1", SECRET, "sslmode=disable")).unwrap();
    let e = connect_err(&t);
    let s = shown(&e);
    assert!(matches!(e, ConnectError::AuthFailed { .. }), "{s}");
}

#[test]
fn tls_wrong_password_is_an_authentication_error_without_the_password() {
    let wrong = format!("{SECRET}-but-wrong");
    let t = connect::from_url(&secure_url("127.0.0.1", &wrong, "sslmode=require")).unwrap();
    let e = connect_err(&t);
    let s = format!("{e}\n{e:?}\n{t}\n{t:?}");
    assert!(!s.contains(&wrong) && !s.contains(SECRET), "{s}");
    assert!(matches!(e, ConnectError::AuthFailed { .. }), "{s}");
    assert!(s.contains("password authentication failed"), "{s}");
    // Without any password.
    let t = connect::from_url(&format!(
        "postgres://{SECURE_USER}@127.0.0.1:{}/postgres?sslmode=require",
        secure().cluster.port()
    ))
    .unwrap();
    let e = connect_err(&t);
    assert!(matches!(e, ConnectError::AuthFailed { .. }), "{e}");
    assert!(e.to_string().contains("none was given"), "{e}");
}

/// The built-in function table (src/sql/builtins.rs) is sorted for binary search and, on the
/// PostgreSQL major it was generated from, holds every `pg_catalog` function the server has: a
/// missing one would make a harmless call "unknown", an invented one could hide a project's.
#[test]
fn the_builtin_function_table_matches_the_server() {
    use migsafe::sql::builtins::{CATALOG, CONTRIB};
    for list in [CATALOG, CONTRIB] {
        assert!(list.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
    }
    let (_, mut c) = testing::fresh_database("builtins");
    let major: i32 = c
        .query_one(
            "SELECT current_setting('server_version_num')::int / 10000",
            &[],
        )
        .unwrap()
        .get(0);
    let names: Vec<String> = c
        .query(
            "SELECT DISTINCT proname::text FROM pg_proc WHERE pronamespace = 'pg_catalog'::regnamespace",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(names.len() > 2000);
    if major == 15 {
        let missing: Vec<&String> = names
            .iter()
            .filter(|n| CATALOG.binary_search(&n.as_str()).is_err())
            .collect();
        assert!(missing.is_empty(), "regenerate the table: {missing:?}");
    }
    // Whatever the major: the functions that write are never taken for readers.
    for w in ["setval", "lo_unlink", "lowrite", "pg_file_write"] {
        assert!(!migsafe::sql::builtins::catalog_reader(w), "{w}");
    }
}

/// The locks lint says a statement takes on tables besides its target (`locks_elsewhere`) are
/// the ones PostgreSQL takes: each statement runs in a transaction on a real server and
/// `pg_locks` is read before it rolls back. Every predicted lock is held, and every lock of
/// SHARE or stronger on another existing table is predicted.
#[test]
fn locks_elsewhere_match_pg_locks() {
    const SCHEMA: &str = "CREATE TABLE person (id int PRIMARY KEY);
CREATE TABLE note (id int PRIMARY KEY, person_id int REFERENCES person (id));
CREATE TABLE other (id int PRIMARY KEY, person_id int);
CREATE TABLE meas (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE meas_2024 PARTITION OF meas FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE meas_default PARTITION OF meas DEFAULT;
CREATE TABLE loose (id int, at date);
CREATE TABLE base (id int);
ALTER TABLE other ADD CONSTRAINT other_person FOREIGN KEY (person_id) REFERENCES person (id);
CREATE TABLE base_kid (x int) INHERITS (base);
CREATE VIEW base_ids AS SELECT id FROM base;
";
    let statements = [
        "CREATE TABLE n2 (id int, p int REFERENCES person (id))",
        "ALTER TABLE other ADD FOREIGN KEY (id) REFERENCES person (id) NOT VALID",
        "ALTER TABLE other ADD COLUMN boss int REFERENCES person (id)",
        "ALTER TABLE note DROP CONSTRAINT note_person_id_fkey",
        "ALTER TABLE other DROP CONSTRAINT other_person",
        "ALTER TABLE note DROP CONSTRAINT note_pkey",
        "DROP TABLE note",
        "DROP TABLE person CASCADE",
        "TRUNCATE person CASCADE",
        "CREATE TABLE meas_2025 PARTITION OF meas FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
        "ALTER TABLE meas ATTACH PARTITION loose FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
        "ALTER TABLE meas DETACH PARTITION meas_2024",
        "DROP TABLE meas_2024",
        "CREATE TABLE kid (x int) INHERITS (base)",
        "ALTER TABLE loose INHERIT base",
        "ALTER TABLE note DROP COLUMN person_id",
        "ALTER TABLE person DROP CONSTRAINT person_pkey CASCADE",
        "ALTER TABLE person DROP COLUMN id CASCADE",
        "ALTER TABLE note ALTER COLUMN person_id TYPE bigint",
        "ALTER TABLE person ALTER COLUMN id TYPE bigint",
        "ALTER TABLE meas ADD COLUMN z int",
        "ALTER TABLE base ADD COLUMN z int",
        "CREATE INDEX ON meas (id)",
        "CREATE INDEX ON ONLY meas (id)",
        "CREATE POLICY own ON person USING (true)",
        "CREATE RULE keep AS ON DELETE TO person DO INSTEAD NOTHING",
        "CREATE OR REPLACE VIEW base_ids AS SELECT id FROM base",
        "GRANT SELECT ON person TO PUBLIC",
        "REVOKE SELECT ON person FROM PUBLIC",
    ];
    let (_, mut client) = database_with("locks_elsewhere", SCHEMA);
    for sql in statements {
        // What lint predicts, with SCHEMA as the earlier migration.
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("migrations");
        std::fs::create_dir_all(&m).unwrap();
        std::fs::write(dir.path().join("sqlx.toml"), "").unwrap();
        std::fs::write(m.join("1_schema.up.sql"), SCHEMA).unwrap();
        std::fs::write(m.join("2_change.up.sql"), format!("{sql};\n")).unwrap();
        let report = migsafe::lint::lint(&migsafe::lint::LintOptions {
            paths: vec![m],
            ..Default::default()
        })
        .unwrap();
        let step = &report.projects[0].analysis.migrations[1].up.steps[0];
        let predicted: Vec<(String, String)> = step
            .effects
            .iter()
            .flat_map(|e| &e.locks_elsewhere)
            .map(|l| {
                let mode = serde_json::to_value(l.lock).unwrap();
                (l.table.clone(), mode.as_str().unwrap().to_string())
            })
            .collect();
        let target: Vec<String> = step
            .effects
            .iter()
            .flat_map(|e| match &e.op {
                migsafe::sql::Op::CreateView { name, .. } => vec![name.as_str()],
                op => op.tables(),
            })
            .map(str::to_string)
            .collect();
        // The lock predicted on the target itself, where there is one.
        let own: Vec<String> = step
            .effects
            .iter()
            .map(|e| serde_json::to_value(e.effect.lock).unwrap())
            .map(|m| m.as_str().unwrap().to_string())
            .collect();

        // What PostgreSQL does.
        let mut tx = client.transaction().unwrap();
        tx.batch_execute(sql).unwrap();
        let held: Vec<(String, String)> = tx
            .query(
                "SELECT c.relname::text, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                 WHERE l.pid = pg_backend_pid() AND c.relkind IN ('r', 'p', 'v')",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        tx.rollback().unwrap();

        // "SHARE_ROW_EXCLUSIVE" in migsafe's JSON is "ShareRowExclusiveLock" in pg_locks.
        let pg_mode = |m: &str| {
            let camel: String = m
                .split('_')
                .map(|w| w[..1].to_string() + &w[1..].to_ascii_lowercase())
                .collect();
            camel + "Lock"
        };
        for (table, mode) in &predicted {
            assert!(
                held.iter().any(|(t, m)| t == table && *m == pg_mode(mode)),
                "{sql}: predicted {mode} on {table}; PostgreSQL held {held:?}"
            );
        }
        // The strongest lock held on the target is the one predicted.
        let rank = |m: &str| {
            [
                "AccessShareLock",
                "RowShareLock",
                "RowExclusiveLock",
                "ShareUpdateExclusiveLock",
                "ShareLock",
                "ShareRowExclusiveLock",
                "ExclusiveLock",
                "AccessExclusiveLock",
            ]
            .iter()
            .position(|x| *x == m)
        };
        if let ([t], [mode]) = (target.as_slice(), own.as_slice()) {
            let strongest = held
                .iter()
                .filter(|(h, _)| h == t)
                .max_by_key(|(_, m)| rank(m))
                .map(|(_, m)| m.clone());
            // A dropped table is no longer in pg_class: its lock cannot be read.
            if mode != "NONE" && strongest.is_some() {
                assert_eq!(
                    strongest,
                    Some(pg_mode(mode)),
                    "{sql}: predicted {mode} on {t}; PostgreSQL held {held:?}"
                );
            }
        }
        let strong = [
            "ShareLock",
            "ShareRowExclusiveLock",
            "ExclusiveLock",
            "AccessExclusiveLock",
        ];
        let existing = [
            "person",
            "note",
            "other",
            "meas",
            "meas_2024",
            "meas_default",
            "loose",
            "base",
            "base_kid",
            "base_ids",
        ];
        for (table, mode) in &held {
            if strong.contains(&mode.as_str())
                && existing.contains(&table.as_str())
                && !target.contains(table)
            {
                assert!(
                    predicted.iter().any(|(t, _)| t == table),
                    "{sql}: PostgreSQL took {mode} on {table}, which lint did not predict ({predicted:?})"
                );
            }
        }
    }
}
