//! Sources: every example project is discovered with the right runner and layout, and every kind
//! of bad input gives its exact error.

use std::fs;
use std::path::{Path, PathBuf};

use migsafe::source::{
    Delimiting, ExecMode, Project, Runner, SourceError, checksum, detect, discover, load_files,
};
use tempfile::TempDir;

const EXAMPLES: &str = "migrations-examples";

fn example(name: &str) -> Project {
    let dir = Path::new(EXAMPLES).join(name);
    discover(&dir, None).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

/// One line per migration: `<id> up=<mode> down=<mode or ->`.
fn summary(project: &Project) -> Vec<String> {
    project
        .migrations
        .iter()
        .map(|m| {
            let down = m
                .down
                .as_ref()
                .map_or("-".to_string(), |d| format!("{:?}", d.mode));
            format!("{} up={:?} down={down}", m.id(), m.up.mode)
        })
        .collect()
}

fn file_names(project: &Project) -> Vec<String> {
    project
        .migrations
        .iter()
        .map(|m| {
            let rel = |p: &Path| {
                p.strip_prefix(&project.root)
                    .unwrap_or(p)
                    .display()
                    .to_string()
            };
            match &m.down {
                Some(d) => format!("{} | {}", rel(&m.up.path), rel(&d.path)),
                None => rel(&m.up.path),
            }
        })
        .collect()
}

/// A scratch directory with the given files (`name`, `content`).
fn tree(files: &[(&str, &[u8])]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        let path = dir.path().join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }
    dir
}

fn err(result: Result<Project, SourceError>) -> String {
    match result {
        Ok(p) => panic!("expected an error, got {:?}", summary(&p)),
        Err(e) => e.to_string(),
    }
}

fn at(dir: &TempDir, name: &str) -> String {
    dir.path().join(name).display().to_string()
}

// ---------------------------------------------------------------------------------------------
// Example projects
// ---------------------------------------------------------------------------------------------

#[test]
fn diesel_example() {
    let p = example("diesel");
    assert_eq!(p.runner, Runner::Diesel);
    assert_eq!(p.root, Path::new("migrations-examples/diesel/migrations"));
    assert_eq!(
        summary(&p),
        [
            "00000000000000_diesel_initial_setup up=WrappedTx down=WrappedTx",
            "20240304101500_create_posts up=WrappedTx down=WrappedTx",
            "20240318093000_add_posts_published_at up=WrappedTx down=WrappedTx",
            // metadata.toml: run_in_transaction = false
            "20240402140000_index_posts_published_at up=SingleSimpleQuery down=SingleSimpleQuery",
            "20240420080000_drop_posts_legacy_slug up=WrappedTx down=WrappedTx",
        ]
    );
    assert_eq!(
        file_names(&p)[1],
        "2024-03-04-101500_create_posts/up.sql | 2024-03-04-101500_create_posts/down.sql"
    );
    assert!(
        p.migrations
            .iter()
            .all(|m| !m.repeatable && m.up.delimiting == Delimiting::Standard)
    );
}

#[test]
fn sqlx_example() {
    let p = example("sqlx");
    assert_eq!(p.runner, Runner::Sqlx);
    assert_eq!(
        summary(&p),
        [
            "20240105090000_create_customers up=WrappedTx down=WrappedTx",
            "20240105091000_create_orders up=WrappedTx down=WrappedTx",
            "20240212120000_add_orders_status up=WrappedTx down=WrappedTx",
            "20240219090000_widen_orders_total up=WrappedTx down=WrappedTx",
            // `-- no-transaction` on the first line
            "20240301080000_index_orders_customer_id up=SingleSimpleQuery down=SingleSimpleQuery",
        ]
    );
    assert_eq!(
        file_names(&p)[0],
        "20240105090000_create_customers.up.sql | 20240105090000_create_customers.down.sql"
    );
    let m = &p.migrations[4];
    assert_eq!(m.version, "20240301080000");
    assert_eq!(m.name, "index_orders_customer_id");
    assert!(
        m.up.text()
            .starts_with("-- no-transaction\nCREATE INDEX CONCURRENTLY")
    );
}

#[test]
fn golang_migrate_example() {
    let p = example("golang-migrate");
    assert_eq!(p.runner, Runner::GolangMigrate);
    assert_eq!(
        summary(&p),
        [
            "000001_create_agents up=SingleSimpleQuery down=SingleSimpleQuery",
            "000002_create_tickets up=SingleSimpleQuery down=SingleSimpleQuery",
            "000003_add_tickets_priority up=SingleSimpleQuery down=SingleSimpleQuery",
            "000004_index_tickets_assignee up=SingleSimpleQuery down=SingleSimpleQuery",
            "000005_backfill_tickets_priority up=SingleSimpleQuery down=SingleSimpleQuery",
        ]
    );
    assert_eq!(
        file_names(&p)[2],
        "000003_add_tickets_priority.up.sql | 000003_add_tickets_priority.down.sql"
    );
}

#[test]
fn goose_example() {
    let p = example("goose");
    assert_eq!(p.runner, Runner::Goose);
    assert_eq!(
        summary(&p),
        [
            "20240110120000_create_products up=WrappedTx down=WrappedTx",
            "20240110121500_products_touch_updated_at up=WrappedTx down=WrappedTx",
            "20240202090000_add_products_sku up=WrappedTx down=WrappedTx",
            // `-- +goose NO TRANSACTION`
            "20240202093000_index_products_sku up=PerStatement down=PerStatement",
            "20240215100000_purge_discontinued_products up=WrappedTx down=WrappedTx",
        ]
    );
    for m in &p.migrations {
        let down = m.down.as_ref().unwrap();
        assert_eq!(m.up.delimiting, Delimiting::Goose);
        assert_eq!(down.path, m.up.path, "up and down share the file");
        assert!(
            std::sync::Arc::ptr_eq(&m.up.source, &down.source),
            "one shared text"
        );
        assert_eq!(m.up.range.end, down.range.start - "-- +goose Down\n".len());
        assert_eq!(down.range.end, down.source.len());
    }
    let sku = &p.migrations[2];
    assert_eq!(
        sku.up.text(),
        "SET lock_timeout = '2s';\nALTER TABLE products ADD COLUMN sku text;\n\n"
    );
    assert_eq!(
        sku.down.as_ref().unwrap().text(),
        "ALTER TABLE products DROP COLUMN sku;\n"
    );
    // The up section starts right after the marker: line 2 of the file.
    assert_eq!(sku.up.source[..sku.up.range.start].lines().count(), 1);

    let index = &p.migrations[3];
    assert_eq!(
        index.up.text(),
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS products_sku_key ON products (sku);\n\n"
    );
    assert_eq!(
        index.up.range.start,
        "-- +goose NO TRANSACTION\n-- +goose Up\n".len()
    );

    let function = &p.migrations[1];
    assert!(
        function
            .up
            .text()
            .starts_with("-- +goose StatementBegin\nCREATE FUNCTION touch_updated_at()")
    );
    let purge = &p.migrations[4];
    assert_eq!(
        purge.down.as_ref().unwrap().text(),
        "-- The deleted products cannot be brought back from here.\n"
    );
}

#[test]
fn dbmate_example_from_project_root_and_migrations_dir() {
    for dir in [
        "migrations-examples/dbmate",
        "migrations-examples/dbmate/db/migrations",
    ] {
        assert_eq!(detect(Path::new(dir)).unwrap(), Runner::Dbmate, "{dir}");
        let p = discover(Path::new(dir), None).unwrap();
        assert_eq!(
            p.root,
            Path::new("migrations-examples/dbmate/db/migrations")
        );
        assert_eq!(
            summary(&p),
            [
                "20240115083000_create_venues up=WrappedTx down=WrappedTx",
                "20240115084500_create_events up=WrappedTx down=WrappedTx",
                "20240201100000_add_bookings_cancelled_at up=WrappedTx down=WrappedTx",
                // `-- migrate:up transaction:false`
                "20240201101500_index_events_starts_at up=SingleSimpleQuery down=SingleSimpleQuery",
                "20240220090000_rename_events_title up=WrappedTx down=WrappedTx",
            ]
        );
    }
    let p = example("dbmate");
    let index = &p.migrations[3];
    assert_eq!(
        index.up.text(),
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS events_starts_at_idx ON events (starts_at);\n\n"
    );
    let down = index.down.as_ref().unwrap();
    assert_eq!(
        down.text(),
        "DROP INDEX CONCURRENTLY IF EXISTS events_starts_at_idx;\n"
    );
    assert_eq!(
        down.source[..down.range.start].lines().count(),
        4,
        "down body starts on line 5"
    );
}

#[test]
fn flyway_example() {
    let p = example("flyway");
    assert_eq!(p.runner, Runner::Flyway);
    assert_eq!(p.root, Path::new("migrations-examples/flyway/sql"));
    assert_eq!(
        summary(&p),
        [
            // Un__ is the undo of Vn__
            "1_create_patients_and_appointments up=FlywayAuto down=FlywayAuto",
            "2_add_appointments_notes up=FlywayAuto down=FlywayAuto",
            // V3__….sql.conf: executeInTransaction=false (for V3 only; its undo decides alone)
            "3_index_appointments_starts_at up=PerStatement down=FlywayAuto",
            "4_appointment_status_enum up=FlywayAuto down=FlywayAuto",
            "R_upcoming_appointments_view up=FlywayAuto down=-",
        ]
    );
    assert_eq!(
        file_names(&p)[1],
        "V2__add_appointments_notes.sql | U2__add_appointments_notes.sql"
    );
    let repeatable: Vec<bool> = p.migrations.iter().map(|m| m.repeatable).collect();
    assert_eq!(repeatable, [false, false, false, false, true]);
}

#[test]
fn refinery_example() {
    let p = example("refinery");
    assert_eq!(p.runner, Runner::Refinery);
    assert_eq!(
        summary(&p),
        [
            "1_create_links up=WrappedTx down=-",
            "2_create_clicks up=WrappedTx down=-",
            "3_add_links_expires_at up=WrappedTx down=-",
            "4_index_clicks_link_id up=WrappedTx down=-",
            "5_purge_old_clicks up=WrappedTx down=-",
        ]
    );
}

#[test]
fn sqitch_example_with_rework() {
    let p = example("sqitch");
    assert_eq!(p.runner, Runner::Sqitch);
    assert_eq!(
        summary(&p),
        [
            "appschema up=PerStatement down=PerStatement",
            "users up=PerStatement down=PerStatement",
            "insert_user@v1.0.0 up=PerStatement down=PerStatement",
            "users_email up=PerStatement down=PerStatement",
            "insert_user up=PerStatement down=PerStatement",
        ]
    );
    assert_eq!(
        file_names(&p),
        [
            "deploy/appschema.sql | revert/appschema.sql",
            "deploy/users.sql | revert/users.sql",
            "deploy/insert_user@v1.0.0.sql | revert/insert_user@v1.0.0.sql",
            "deploy/users_email.sql | revert/users_email.sql",
            "deploy/insert_user.sql | revert/insert_user.sql",
        ]
    );
}

#[test]
fn plain_example() {
    let p = example("plain");
    assert_eq!(p.runner, Runner::Plain);
    assert_eq!(
        summary(&p),
        [
            "001_create-schema up=PerStatement down=-",
            "002_add-notes-archived-at up=PerStatement down=-",
            "003_index-notes-notebook up=PerStatement down=-",
            "004_notes-notebook-fk up=PerStatement down=-",
            "005_drop-legacy-tags up=PerStatement down=-",
        ]
    );
    assert_eq!(p.migrations[0].version, "001");
    assert_eq!(p.migrations[0].name, "create-schema");
}

#[test]
fn release_20h_example() {
    let p = example("release-20h");
    assert_eq!(p.runner, Runner::Sqlx);
    assert_eq!(
        summary(&p),
        [
            "20240902090000_create_accounts up=WrappedTx down=WrappedTx",
            "20240902091000_create_users up=WrappedTx down=WrappedTx",
            "20240916100000_create_invoices up=WrappedTx down=WrappedTx",
            "20240930110000_index_invoices_account_id up=SingleSimpleQuery down=SingleSimpleQuery",
            "20241014090000_drop_accounts_legacy_plan up=WrappedTx down=WrappedTx",
            "20241014091000_normalize_invoice_currency up=WrappedTx down=WrappedTx",
        ]
    );
    let drop = &p.migrations[4];
    assert!(
        drop.up
            .text()
            .contains("ALTER TABLE accounts DROP COLUMN legacy_plan;")
    );
    assert!(
        drop.down
            .as_ref()
            .unwrap()
            .text()
            .contains("ADD COLUMN legacy_plan text;")
    );
    let update = &p.migrations[5];
    assert!(
        update
            .up
            .text()
            .contains("UPDATE invoices SET currency = 'EUR'")
    );
}

#[test]
fn every_example_is_detected_and_checksummed() {
    let expected = [
        ("diesel", Runner::Diesel),
        ("sqlx", Runner::Sqlx),
        ("golang-migrate", Runner::GolangMigrate),
        ("goose", Runner::Goose),
        ("dbmate", Runner::Dbmate),
        ("flyway", Runner::Flyway),
        ("refinery", Runner::Refinery),
        ("sqitch", Runner::Sqitch),
        ("plain", Runner::Plain),
        ("release-20h", Runner::Sqlx),
    ];
    for (name, runner) in expected {
        assert_eq!(
            detect(&Path::new(EXAMPLES).join(name)).unwrap(),
            runner,
            "{name}"
        );
        for m in example(name).migrations {
            assert_eq!(
                m.checksum,
                checksum(m.up.text(), m.down.as_ref().map(|d| d.text())),
                "{name} {}",
                m.id()
            );
            assert!(m.up.path.is_relative(), "paths stay relative");
        }
    }
    let mut dirs: Vec<String> = fs::read_dir(EXAMPLES)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let mut names: Vec<&str> = expected.iter().map(|(n, _)| *n).collect();
    names.sort();
    assert_eq!(dirs, names, "every example directory is covered here");
}

// ---------------------------------------------------------------------------------------------
// Detection
// ---------------------------------------------------------------------------------------------

#[test]
fn v_files_alone_are_ambiguous_between_flyway_and_refinery() {
    let dir = tree(&[
        ("V1__init.sql", b"CREATE TABLE t (id int);"),
        ("V2__more.sql", b"SELECT 1;"),
    ]);
    let want = format!(
        "{}: the layout fits several runners (flyway, refinery); choose with --runner, or set `runner = \"…\"` in migsafe.toml",
        dir.path().display()
    );
    assert_eq!(detect(dir.path()).unwrap_err().to_string(), want);
    assert_eq!(err(discover(dir.path(), None)), want);
}

#[test]
fn up_down_files_without_signals_are_ambiguous_between_sqlx_and_golang_migrate() {
    let dir = tree(&[
        ("1_init.up.sql", b"CREATE TABLE t (id int);"),
        ("1_init.down.sql", b"DROP TABLE t;"),
    ]);
    assert_eq!(
        err(discover(dir.path(), None)),
        format!(
            "{}: the layout fits several runners (sqlx, golang-migrate); choose with --runner, or set `runner = \"…\"` in migsafe.toml",
            dir.path().display()
        )
    );
}

#[test]
fn underscored_numbered_files_are_ambiguous_between_sqlx_and_plain() {
    let dir = tree(&[("001_init.sql", b"SELECT 1;")]);
    assert!(err(discover(dir.path(), None)).contains("(sqlx, plain)"));
}

#[test]
fn signals_settle_ambiguity() {
    let files: &[(&str, &[u8])] = &[
        ("migrations/1_init.up.sql", b"SELECT 1;"),
        ("migrations/1_init.down.sql", b"SELECT 2;"),
    ];
    let sqlx = tree(
        &[
            files,
            &[(
                "Cargo.toml",
                b"[package]\nname = \"x\"\n\n[dependencies]\nsqlx = \"0.8\"\n",
            )],
        ]
        .concat(),
    );
    assert_eq!(detect(sqlx.path()).unwrap(), Runner::Sqlx);
    let sqlx_toml = tree(&[files, &[("sqlx.toml", b"[migrate]\n")]].concat());
    assert_eq!(detect(sqlx_toml.path()).unwrap(), Runner::Sqlx);
    let go = tree(
        &[
            files,
            &[(
                "go.mod",
                b"module x\n\nrequire github.com/golang-migrate/migrate/v4 v4.17.1\n",
            )],
        ]
        .concat(),
    );
    assert_eq!(detect(go.path()).unwrap(), Runner::GolangMigrate);
    // `sqlparser` is not sqlx.
    let other = tree(
        &[
            files,
            &[(
                "Cargo.toml",
                b"[package]\nname = \"x\"\n\n[dependencies]\nsqlparser = \"0.64\"\n",
            )],
        ]
        .concat(),
    );
    assert!(err(discover(other.path(), None)).contains("(sqlx, golang-migrate)"));

    let v: &[(&str, &[u8])] = &[("V1__init.sql", b"SELECT 1;")];
    assert_eq!(
        detect(tree(&[v, &[("refinery.toml", b"")]].concat()).path()).unwrap(),
        Runner::Refinery
    );
    assert_eq!(
        detect(tree(&[v, &[("flyway.conf", b"")]].concat()).path()).unwrap(),
        Runner::Flyway
    );
    assert_eq!(
        detect(tree(&[v, &[("R__views.sql", b"SELECT 1;")]].concat()).path()).unwrap(),
        Runner::Flyway
    );
    assert_eq!(
        detect(tree(&[v, &[("U1__init.sql", b"SELECT 1;")]].concat()).path()).unwrap(),
        Runner::Flyway
    );
    let pom = tree(&[v, &[("pom.xml", b"<artifactId>flyway-core</artifactId>")]].concat());
    assert_eq!(detect(pom.path()).unwrap(), Runner::Flyway);
}

/// `(runner, hint)` of a project, or the error.
fn decided(dir: &TempDir) -> Result<(Runner, Option<String>), String> {
    discover(dir.path(), None)
        .map(|p| (p.runner, p.runner_hint))
        .map_err(|e| e.to_string())
}

fn hinted(runner: Runner, from: &str) -> Result<(Runner, Option<String>), String> {
    Ok((runner, Some(from.to_string())))
}

const UP_DOWN: &[(&str, &[u8])] = &[
    ("migrations/1_init.up.sql", b"CREATE TABLE t (id int);"),
    ("migrations/1_init.down.sql", b"DROP TABLE t;"),
];

fn with(base: &[(&str, &[u8])], extra: &[(&str, &[u8])]) -> TempDir {
    tree(&[base, extra].concat())
}

#[test]
fn repository_hints_decide_between_sqlx_and_golang_migrate() {
    let go_mod: &[u8] =
        b"module x\n\nrequire (\n\tgithub.com/golang-migrate/migrate/v4 v4.17.1\n)\n";
    let cargo: &[u8] = b"[package]\nname = \"x\"\n\n[dependencies]\nsqlx = { version = \"0.8\", features = [\"postgres\"] }\n";
    assert_eq!(
        decided(&with(UP_DOWN, &[("go.mod", go_mod)])),
        hinted(Runner::GolangMigrate, "go.mod")
    );
    assert_eq!(
        decided(&with(UP_DOWN, &[("Cargo.toml", cargo)])),
        hinted(Runner::Sqlx, "Cargo.toml")
    );
    assert_eq!(
        decided(&with(
            UP_DOWN,
            &[(
                "Dockerfile",
                b"FROM migrate/migrate:v4.17.1\nCOPY migrations /migrations\n"
            )]
        )),
        hinted(Runner::GolangMigrate, "Dockerfile")
    );
    assert_eq!(
        decided(&with(
            UP_DOWN,
            &[(
                "deploy/Dockerfile.migrate",
                b"FROM rust:1.88\nRUN cargo install sqlx-cli --no-default-features --features postgres\n"
            ),
            ("Dockerfile.migrate", b"FROM rust:1.88\nRUN cargo install sqlx-cli\n")]
        )),
        hinted(Runner::Sqlx, "Dockerfile.migrate")
    );
    assert_eq!(
        decided(&with(
            UP_DOWN,
            &[(
                "docker-compose.yml",
                b"services:\n  migrate:\n    image: migrate/migrate\n    command: [\"-path\", \"/migrations\", \"up\"]\n"
            )]
        )),
        hinted(Runner::GolangMigrate, "docker-compose.yml")
    );
    // A hint for a runner whose layout does not fit decides nothing.
    let goose = with(
        UP_DOWN,
        &[(
            "go.mod",
            b"module x\nrequire github.com/pressly/goose/v3 v3.20.0\n",
        )],
    );
    assert!(
        decided(&goose)
            .unwrap_err()
            .contains("(sqlx, golang-migrate); choose with")
    );
    // A commented-out image is no hint.
    let comment = with(
        UP_DOWN,
        &[("Dockerfile", b"# FROM migrate/migrate\nFROM postgres:16\n")],
    );
    assert!(
        decided(&comment)
            .unwrap_err()
            .contains("(sqlx, golang-migrate); choose with")
    );
}

#[test]
fn hints_are_looked_for_up_to_the_repository_root() {
    // The migrations are six levels below the repository root that names the runner.
    let deep = tree(&[
        (".git/HEAD", b"ref: refs/heads/main\n"),
        (
            "go.mod",
            b"module x\nrequire github.com/golang-migrate/migrate/v4 v4.17.1\n",
        ),
        (
            "services/api/internal/store/db/migrations/1_init.up.sql",
            b"SELECT 1;",
        ),
        (
            "services/api/internal/store/db/migrations/1_init.down.sql",
            b"SELECT 2;",
        ),
    ]);
    let p = discover(
        &deep
            .path()
            .join("services/api/internal/store/db/migrations"),
        None,
    )
    .unwrap();
    assert_eq!(
        (p.runner, p.runner_hint.as_deref()),
        (Runner::GolangMigrate, Some("go.mod"))
    );
    // A file above the repository root belongs to another project.
    let above = tree(&[
        (
            "go.mod",
            b"module x\nrequire github.com/golang-migrate/migrate/v4 v4.17.1\n",
        ),
        ("repo/.git", b"gitdir: /elsewhere\n"),
        ("repo/migrations/1_init.up.sql", b"SELECT 1;"),
        ("repo/migrations/1_init.down.sql", b"SELECT 2;"),
    ]);
    assert!(
        err(discover(&above.path().join("repo"), None))
            .contains("(sqlx, golang-migrate); choose with")
    );
}

#[test]
fn conflicting_hints_still_ask() {
    let both = with(
        UP_DOWN,
        &[
            (
                "go.mod",
                b"module x\nrequire github.com/golang-migrate/migrate/v4 v4.17.1\n",
            ),
            ("Cargo.toml", b"[dependencies]\nsqlx = \"0.8\"\n"),
        ],
    );
    assert_eq!(
        decided(&both).unwrap_err(),
        format!(
            "{}: the layout fits several runners (sqlx, golang-migrate), and the repository points to several (sqlx from Cargo.toml, golang-migrate from go.mod); choose with --runner, or set `runner = \"…\"` in migsafe.toml",
            at(&both, "migrations")
        )
    );
    let docker = with(
        UP_DOWN,
        &[(
            "Dockerfile",
            b"FROM migrate/migrate AS migrate\nFROM rust\nRUN cargo install sqlx-cli\n",
        )],
    );
    assert!(
        decided(&docker)
            .unwrap_err()
            .contains("points to several (sqlx from Dockerfile, golang-migrate from Dockerfile)")
    );
    // migsafe.toml settles it.
    let settled = with(
        UP_DOWN,
        &[
            (
                "go.mod",
                b"module x\nrequire github.com/golang-migrate/migrate/v4 v4.17.1\n",
            ),
            ("Cargo.toml", b"[dependencies]\nsqlx = \"0.8\"\n"),
            ("migsafe.toml", b"runner = \"sqlx\"\n"),
        ],
    );
    assert_eq!(decided(&settled), Ok((Runner::Sqlx, None)));
}

#[test]
fn java_and_cargo_hints_decide_between_flyway_and_refinery() {
    let v: &[(&str, &[u8])] = &[("src/main/resources/db/migration/V1__init.sql", b"SELECT 1;")];
    let at_migrations = |t: &TempDir| {
        discover(&t.path().join("src/main/resources/db/migration"), None)
            .map(|p| (p.runner, p.runner_hint))
            .map_err(|e| e.to_string())
    };
    let gradle = with(
        v,
        &[(
            "build.gradle.kts",
            b"plugins {\n  id(\"org.flywaydb.flyway\") version \"10.17.0\"\n}\n",
        )],
    );
    assert_eq!(
        at_migrations(&gradle),
        hinted(Runner::Flyway, "build.gradle.kts")
    );
    let pom = with(
        v,
        &[(
            "pom.xml",
            b"<project><dependencies><dependency><groupId>org.flywaydb</groupId><artifactId>flyway-core</artifactId></dependency></dependencies></project>",
        )],
    );
    assert_eq!(at_migrations(&pom), hinted(Runner::Flyway, "pom.xml"));
    let cargo = with(
        v,
        &[("Cargo.toml", b"[dependencies]\nrefinery = \"0.8\"\n")],
    );
    assert_eq!(
        at_migrations(&cargo),
        hinted(Runner::Refinery, "Cargo.toml")
    );
    let none = tree(v);
    assert!(
        at_migrations(&none)
            .unwrap_err()
            .contains("(flyway, refinery); choose with")
    );
    let docker = with(v, &[("Dockerfile", b"FROM flyway/flyway:10-alpine\n")]);
    assert_eq!(at_migrations(&docker), hinted(Runner::Flyway, "Dockerfile"));
}

#[test]
fn hints_decide_between_goose_and_dbmate_markers() {
    let files: &[(&str, &[u8])] = &[
        ("db/migrations/1_a.sql", b"-- +goose Up\nSELECT 1;\n"),
        (
            "db/migrations/2_b.sql",
            b"-- migrate:up\nSELECT 1;\n-- migrate:down\n",
        ),
    ];
    // `detect` only names the runner; loading these files with it then reports the other
    // runner's file, as it should.
    let npm = with(
        files,
        &[(
            "package.json",
            b"{\"devDependencies\": {\"dbmate\": \"^2.21.0\"}}",
        )],
    );
    assert_eq!(detect(npm.path()).unwrap(), Runner::Dbmate);
    assert!(err(discover(npm.path(), None)).contains("1_a.sql:1: dbmate requires"));
    let go = with(
        files,
        &[(
            "go.mod",
            b"module x\n\nrequire github.com/pressly/goose/v3 v3.20.0\n",
        )],
    );
    assert_eq!(detect(go.path()).unwrap(), Runner::Goose);
    assert!(
        decided(&tree(files))
            .unwrap_err()
            .contains("(goose, dbmate); choose with")
    );
}

#[test]
fn migsafe_toml_runner_wins() {
    let dir = tree(&[
        ("migrations/001_init.sql", b"SELECT 1;"),
        ("migsafe.toml", b"runner = \"plain\"\n"),
    ]);
    let p = discover(dir.path(), None).unwrap();
    assert_eq!(p.runner, Runner::Plain);
    assert_eq!(p.root, dir.path().join("migrations"));

    let bad = tree(&[
        ("001_init.sql", b"SELECT 1;"),
        ("migsafe.toml", b"# config\nrunner = \"rails\"\n"),
    ]);
    assert_eq!(
        err(discover(bad.path(), None)),
        format!(
            "{}:2: unknown runner \"rails\"; expected one of diesel, sqlx, golang-migrate, goose, dbmate, flyway, refinery, sqitch, plain",
            at(&bad, "migsafe.toml")
        )
    );
}

#[test]
fn goose_and_dbmate_markers_in_one_directory_are_ambiguous() {
    let dir = tree(&[
        ("1_a.sql", b"-- +goose Up\nSELECT 1;\n"),
        ("2_b.sql", b"-- migrate:up\nSELECT 1;\n-- migrate:down\n"),
    ]);
    assert!(err(discover(dir.path(), None)).contains("(goose, dbmate)"));
}

#[test]
fn explicit_runner_skips_detection() {
    let p = discover(
        Path::new("migrations-examples/sqlx"),
        Some(Runner::GolangMigrate),
    )
    .unwrap();
    assert_eq!(p.runner, Runner::GolangMigrate);
    assert_eq!(p.migrations.len(), 5);
    assert!(
        p.migrations
            .iter()
            .all(|m| m.up.mode == ExecMode::SingleSimpleQuery)
    );

    let dir = tree(&[("V1__init.sql", b"SELECT 1;")]);
    assert_eq!(
        discover(dir.path(), Some(Runner::Refinery)).unwrap().runner,
        Runner::Refinery
    );
    // A runner whose layout finds nothing says so.
    assert_eq!(
        err(discover(dir.path(), Some(Runner::Diesel))),
        format!(
            "{}: no migrations found (looked for the layouts of diesel)",
            dir.path().display()
        )
    );
}

#[test]
fn empty_directory_finds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let want = format!(
        "{}: no migrations found (looked for the layouts of diesel, sqlx, golang-migrate, goose, dbmate, flyway, refinery, sqitch, plain)",
        dir.path().display()
    );
    assert_eq!(err(discover(dir.path(), None)), want);
    assert_eq!(detect(dir.path()).unwrap_err().to_string(), want);
}

#[test]
fn missing_path() {
    let dir = tempfile::tempdir().unwrap();
    let gone = dir.path().join("nope");
    assert_eq!(
        err(discover(&gone, None)),
        format!("{}: no such file or directory", gone.display())
    );
    let file = gone.join("001.sql");
    assert_eq!(
        err(load_files(std::slice::from_ref(&file))),
        format!("{}: no such file or directory", file.display())
    );
}

// ---------------------------------------------------------------------------------------------
// Layout errors
// ---------------------------------------------------------------------------------------------

#[test]
fn duplicate_versions() {
    let dir = tree(&[
        ("002-a.sql", b"SELECT 1;"),
        ("002-b.sql", b"SELECT 2;"),
        ("001-x.sql", b"SELECT 0;"),
    ]);
    assert_eq!(
        err(discover(dir.path(), None)),
        format!(
            "{}: duplicate version 002 (also {})",
            at(&dir, "002-b.sql"),
            at(&dir, "002-a.sql")
        )
    );
    // Leading zeros do not make a different version.
    let sqlx = tree(&[("1_a.sql", b"SELECT 1;"), ("0001_b.sql", b"SELECT 2;")]);
    assert_eq!(
        err(discover(sqlx.path(), Some(Runner::Sqlx))),
        format!(
            "{}: duplicate version 1 (also {})",
            at(&sqlx, "1_a.sql"),
            at(&sqlx, "0001_b.sql")
        )
    );
    // Flyway: 1.0 is 1.
    let flyway = tree(&[("V1__a.sql", b"SELECT 1;"), ("V1.0__b.sql", b"SELECT 2;")]);
    assert_eq!(
        err(discover(flyway.path(), Some(Runner::Flyway))),
        format!(
            "{}: duplicate version 1 (also {})",
            at(&flyway, "V1__a.sql"),
            at(&flyway, "V1.0__b.sql")
        )
    );
    let diesel = tree(&[
        ("2024-01-01-000000_a/up.sql", b"SELECT 1;"),
        ("2024-01-01-000000_b/up.sql", b"SELECT 2;"),
    ]);
    assert_eq!(
        err(discover(diesel.path(), None)),
        format!(
            "{}: duplicate version 20240101000000 (also {})",
            at(&diesel, "2024-01-01-000000_b/up.sql"),
            at(&diesel, "2024-01-01-000000_a/up.sql")
        )
    );
}

#[test]
fn down_without_up() {
    let dir = tree(&[
        ("1_a.up.sql", b"SELECT 1;"),
        ("1_a.down.sql", b"SELECT 1;"),
        ("2_b.down.sql", b"SELECT 2;"),
    ]);
    assert_eq!(
        err(discover(dir.path(), Some(Runner::GolangMigrate))),
        format!(
            "{}: down script without an up script for version 2",
            at(&dir, "2_b.down.sql")
        )
    );
    let flyway = tree(&[("V1__a.sql", b"SELECT 1;"), ("U2__b.sql", b"SELECT 2;")]);
    assert_eq!(
        err(discover(flyway.path(), Some(Runner::Flyway))),
        format!(
            "{}: down script without an up script for version 2",
            at(&flyway, "U2__b.sql")
        )
    );
    let diesel = tree(&[("2024-01-01-000000_a/down.sql", b"SELECT 1;")]);
    assert_eq!(
        err(discover(diesel.path(), None)),
        format!(
            "{}: down script without an up script for version 20240101000000",
            at(&diesel, "2024-01-01-000000_a/down.sql")
        )
    );
}

#[test]
fn non_utf8_file_names_the_byte() {
    let dir = tree(&[("001-init.sql", b"SELECT 'caf\xe9';\n")]);
    assert_eq!(
        err(discover(dir.path(), None)),
        format!(
            "{}: not valid UTF-8 (byte 11); migration files must be UTF-8 text",
            at(&dir, "001-init.sql")
        )
    );
}

#[test]
fn binary_file() {
    let dir = tree(&[("001-init.sql", b"SQLite format 3\0\x10\x00")]);
    assert_eq!(
        err(discover(dir.path(), None)),
        format!(
            "{}: looks like a binary file (NUL byte at offset 15), not SQL",
            at(&dir, "001-init.sql")
        )
    );
}

#[test]
fn goose_annotation_with_leading_whitespace() {
    let dir = tree(&[(
        "20240101000000_init.sql",
        b"-- +goose Up\nCREATE TABLE t (id int);\n  -- +goose Down\nDROP TABLE t;\n",
    )]);
    assert_eq!(detect(dir.path()).unwrap(), Runner::Goose);
    assert_eq!(
        err(discover(dir.path(), None)),
        format!(
            "{}:3: goose annotation `-- +goose Down` has leading whitespace; goose rejects it",
            at(&dir, "20240101000000_init.sql")
        )
    );
}

#[test]
fn goose_bad_file_name() {
    let dir = tree(&[
        ("1_a.sql", b"-- +goose Up\nSELECT 1;\n"),
        ("schema.sql", b"SELECT 1;\n"),
    ]);
    assert_eq!(
        err(discover(dir.path(), None)),
        format!(
            "{}:1: goose needs `<version>_<name>.sql` (no `_` in the name)",
            at(&dir, "schema.sql")
        )
    );
}

#[test]
fn dbmate_requires_down_and_nothing_before_up() {
    let no_down = tree(&[(
        "20240101_a.sql",
        b"-- migrate:up\nCREATE TABLE t (id int);\n",
    )]);
    assert_eq!(
        err(discover(no_down.path(), None)),
        format!(
            "{}:1: dbmate requires a `-- migrate:down` section after `-- migrate:up` (it may be empty)",
            at(&no_down, "20240101_a.sql")
        )
    );
    let before = tree(&[(
        "20240101_a.sql",
        b"\n-- ok\nSET search_path = app;\n-- migrate:up\nSELECT 1;\n-- migrate:down\n",
    )]);
    assert_eq!(
        err(discover(before.path(), None)),
        format!(
            "{}:3: statement before `-- migrate:up`; dbmate rejects it",
            at(&before, "20240101_a.sql")
        )
    );
    let empty_down = tree(&[(
        "20240101_a.sql",
        b"-- migrate:up\nSELECT 1;\n-- migrate:down\n",
    )]);
    let p = discover(empty_down.path(), None).unwrap();
    assert_eq!(p.migrations[0].down.as_ref().unwrap().text(), "");
}

#[test]
fn sqitch_missing_deploy_script() {
    let plan =
        "%syntax-version=1.0.0\n%project=x\n\nusers 2024-01-01T00:00:00Z Ann <ann@example.com>\n";
    let dir = tree(&[
        ("sqitch.plan", plan.as_bytes()),
        ("sqitch.conf", b"[core]\n\tengine = pg\n"),
    ]);
    assert_eq!(
        err(discover(dir.path(), None)),
        format!(
            "{}:4: deploy script {} not found for change `users`",
            at(&dir, "sqitch.plan"),
            at(&dir, "deploy/users.sql")
        )
    );
}

#[test]
fn sqitch_rework_needs_a_tag() {
    let plan = "%project=x\na 2024-01-01T00:00:00Z Ann <ann@example.com>\na [a] 2024-01-02T00:00:00Z Ann <ann@example.com>\n";
    let dir = tree(&[
        ("sqitch.plan", plan.as_bytes()),
        ("deploy/a.sql", b"SELECT 1;"),
    ]);
    assert_eq!(
        err(discover(dir.path(), None)),
        format!(
            "{}:3: change `a` is planned again without a tag in between (sqitch needs a tag before a rework)",
            at(&dir, "sqitch.plan")
        )
    );
}

#[test]
fn sqitch_rework_picks_the_first_tag_with_a_script() {
    let plan = "a 2024-01-01T00:00:00Z Ann <ann@example.com>\n@v1 2024-01-02T00:00:00Z Ann <ann@example.com>\n@v2 2024-01-03T00:00:00Z Ann <ann@example.com>\na [a@v2] 2024-01-04T00:00:00Z Ann <ann@example.com>\n";
    let dir = tree(&[
        ("sqitch.plan", plan.as_bytes()),
        ("deploy/a@v2.sql", b"SELECT 1;"),
        ("deploy/a.sql", b"SELECT 2;"),
    ]);
    let p = discover(dir.path(), None).unwrap();
    assert_eq!(
        summary(&p),
        ["a@v2 up=PerStatement down=-", "a up=PerStatement down=-"]
    );
}

const SQITCH_PLAN: &str =
    "%syntax-version=1.0.0\n%project=x\n\nusers 2024-01-01T00:00:00Z Ann <ann@example.com>\n";

#[test]
fn sqitch_conf_top_dir() {
    let dir = tree(&[
        (
            "sqitch.conf",
            b"[core]\n\tengine = pg\n\ttop_dir = ./sql  # scripts live here\n",
        ),
        ("sql/sqitch.plan", SQITCH_PLAN.as_bytes()),
        ("sql/deploy/users.sql", b"CREATE TABLE users (id int);"),
        ("sql/revert/users.sql", b"DROP TABLE users;"),
        // Decoys where sqitch would look without the configuration.
        ("deploy/users.sql", b"SELECT 'wrong';"),
    ]);
    let p = discover(dir.path(), None).unwrap();
    assert_eq!(p.runner, Runner::Sqitch);
    assert_eq!(p.root, dir.path());
    assert_eq!(summary(&p), ["users up=PerStatement down=PerStatement"]);
    assert_eq!(
        file_names(&p),
        ["sql/deploy/users.sql | sql/revert/users.sql"]
    );
    // Named by its top directory, the project is still read with its sqitch.conf.
    let sub = discover(&dir.path().join("sql"), None).unwrap();
    assert_eq!(sub.runner, Runner::Sqitch);
    assert_eq!(
        sub.migrations[0].up.path,
        dir.path().join("sql/deploy/users.sql")
    );
    assert_eq!(sub.migrations[0].up.text(), "CREATE TABLE users (id int);");

    // A top directory that is none of the usual ones, with the plan file named explicitly
    // (relative to the project, as sqitch reads it) and an extension of its own.
    let custom = tree(&[
        (
            "sqitch.conf",
            b"[core]\n  top_dir = db/sqitch\n  plan_file = plans/main.plan\n  extension = psql\n",
        ),
        ("plans/main.plan", SQITCH_PLAN.as_bytes()),
        (
            "db/sqitch/deploy/users.psql",
            b"CREATE TABLE users (id int);",
        ),
    ]);
    let p = discover(custom.path(), None).unwrap();
    assert_eq!(file_names(&p), ["db/sqitch/deploy/users.psql"]);
    assert_eq!(summary(&p), ["users up=PerStatement down=-"]);
}

#[test]
fn sqitch_conf_engine_and_target_sections_override_core() {
    let files = |conf: &'static [u8]| {
        tree(&[
            ("sqitch.conf", conf),
            ("core/sqitch.plan", SQITCH_PLAN.as_bytes()),
            ("core/deploy/users.sql", b"SELECT 'core';"),
            ("pg/sqitch.plan", SQITCH_PLAN.as_bytes()),
            ("pg/deploy/users.sql", b"SELECT 'pg';"),
            ("pg/undo/users.sql", b"SELECT 'pg undo';"),
            ("prod/sqitch.plan", SQITCH_PLAN.as_bytes()),
            ("prod/deploy/users.sql", b"SELECT 'prod';"),
        ])
    };
    let up = |dir: &TempDir| {
        let p = discover(dir.path(), None).unwrap();
        let m = &p.migrations[0];
        (
            m.up.text().to_string(),
            m.down.as_ref().map(|d| d.text().to_string()),
        )
    };
    let core = files(b"[core]\n\tengine = pg\n\ttop_dir = core\n");
    assert_eq!(up(&core), ("SELECT 'core';".into(), None));
    let engine = files(
        b"[core]\n\tengine = pg\n\ttop_dir = core\n[engine \"pg\"]\n\ttop_dir = pg\n\trevert_dir = pg/undo\n",
    );
    assert_eq!(
        up(&engine),
        ("SELECT 'pg';".into(), Some("SELECT 'pg undo';".into()))
    );
    // An empty value is unset for sqitch: core's value applies.
    let empty = files(b"[core]\n\ttop_dir = core\n[engine \"pg\"]\n\ttop_dir = \"\"\n");
    assert_eq!(up(&empty).0, "SELECT 'core';");
    // Another engine's section does not apply to a pg project.
    let other = files(b"[core]\n\ttop_dir = core\n[engine \"sqlite\"]\n\ttop_dir = pg\n");
    assert_eq!(up(&other).0, "SELECT 'core';");
    let target = files(
        b"[core]\n\ttop_dir = core\n[engine \"pg\"]\n\ttarget = production\n\ttop_dir = pg\n[target \"production\"]\n\turi = db:pg:prod\n\ttop_dir = prod\n",
    );
    assert_eq!(up(&target).0, "SELECT 'prod';");
}

#[test]
fn sqitch_conf_hostile_paths_are_refused() {
    let outside = tree(&[("deploy/users.sql", b"SELECT 'outside';")]);
    let cases: [(String, &str, &str); 5] = [
        (
            "[core]\n\tengine = pg\n\ttop_dir = /etc\n".into(),
            "3",
            "top_dir = \"/etc\": an absolute path",
        ),
        (
            format!("[core]\n\ttop_dir = {}\n", outside.path().display()),
            "2",
            "an absolute path",
        ),
        (
            "[core]\n[engine \"pg\"]\n\tdeploy_dir = sql/../../elsewhere/deploy\n".into(),
            "3",
            "the path leaves the project directory (`..`)",
        ),
        (
            "[core]\n\tplan_file = \"../x/sqitch.plan\"\n".into(),
            "2",
            "plan_file = \"../x/sqitch.plan\": the path leaves the project directory (`..`)",
        ),
        (
            "[core]\n\trevert_dir = ~/revert\n".into(),
            "2",
            "revert_dir = \"~/revert\": a path in a home directory",
        ),
    ];
    for (conf, line, why) in cases {
        let dir = tree(&[
            ("sqitch.conf", conf.as_bytes()),
            ("sqitch.plan", SQITCH_PLAN.as_bytes()),
            ("deploy/users.sql", b"SELECT 1;"),
        ]);
        let e = err(discover(dir.path(), None));
        let prefix = format!("{}:{line}: ", at(&dir, "sqitch.conf"));
        assert!(e.starts_with(&prefix), "{conf:?}: {e}");
        assert!(e.contains(why), "{conf:?}: {e}");
        assert!(
            e.ends_with("; sqitch paths must stay inside the project directory"),
            "{e}"
        );
    }
    let broken = tree(&[
        ("sqitch.conf", b"[core]\n\ttop_dir = \"sql\n"),
        ("sqitch.plan", SQITCH_PLAN.as_bytes()),
    ]);
    assert_eq!(
        err(discover(broken.path(), None)),
        format!(
            "{}:2: unterminated quoted value (missing `\"`)",
            at(&broken, "sqitch.conf")
        )
    );
}

fn up_text(p: &Project, i: usize) -> &str {
    p.migrations[i].up.text()
}

#[test]
fn flyway_placeholders_from_flyway_conf() {
    let dir = tree(&[
        (
            "flyway.conf",
            b"flyway.url=jdbc:postgresql://db:5432/shop?ssl=true\nflyway.schemas=tenant,extra\nflyway.placeholders.schema=app\nflyway.placeholders.Owner = alice\n",
        ),
        (
            "db/migration/V1__init.sql",
            b"CREATE TABLE ${schema}.t (id int);\nALTER TABLE ${SCHEMA}.t OWNER TO ${owner};\nGRANT USAGE ON SCHEMA ${flyway:defaultSchema} TO ${flyway:user};\n-- ${flyway:filename} ${flyway:table} ${flyway:database} ${flyway:environment}\n",
        ),
    ]);
    let p = discover(dir.path(), None).unwrap();
    assert_eq!(p.runner, Runner::Flyway);
    assert_eq!(
        up_text(&p, 0),
        "CREATE TABLE app.t (id int);\nALTER TABLE app.t OWNER TO alice;\nGRANT USAGE ON SCHEMA tenant TO flyway_user;\n-- V1__init.sql flyway_schema_history shop default\n"
    );
    // The checksum is over the text that runs.
    assert_eq!(p.migrations[0].checksum, checksum(up_text(&p, 0), None));
    // Without configuration the default schema is public.
    let bare = tree(&[
        ("flyway.conf", b""),
        ("V1__a.sql", b"SET search_path = ${flyway:defaultSchema};"),
    ]);
    let p = discover(bare.path(), None).unwrap();
    assert_eq!(up_text(&p, 0), "SET search_path = public;");
}

#[test]
fn flyway_placeholders_from_flyway_toml_with_environment_prefix_and_suffix() {
    let toml: &[u8] = br##"[flyway]
environment = "dev"
placeholderPrefix = "#["
placeholderSuffix = "]"

[flyway.placeholders]
schema = "app"
table = "base"

[environments.dev]
url = "jdbc:postgresql://localhost/devdb"
schemas = ["tenant", "other"]

[environments.dev.flyway.placeholders]
table = "dev_table"
"##;
    let dir = tree(&[
        ("flyway.toml", toml),
        (
            "migrations/V1__init.sql",
            b"CREATE TABLE #[schema].#[table] ();\nSELECT '#[flyway:defaultSchema]', '#[flyway:environment]', '#[flyway:database]', '${untouched}';\n",
        ),
        ("migrations/R__views.sql", b"CREATE VIEW v AS SELECT * FROM #[schema].#[table];"),
    ]);
    let p = discover(dir.path(), None).unwrap();
    assert_eq!(
        up_text(&p, 0),
        "CREATE TABLE app.dev_table ();\nSELECT 'tenant', 'dev', 'devdb', '${untouched}';\n"
    );
    assert!(p.migrations[1].repeatable);
    assert_eq!(
        up_text(&p, 1),
        "CREATE VIEW v AS SELECT * FROM app.dev_table;"
    );
}

/// Stand-ins let lint read a script; a command that runs it (plan, apply …) refuses them
/// unless they are configured, rather than grant to a made-up user.
#[test]
fn flyway_stand_ins_are_refused_where_scripts_run() {
    let dir = tree(&[
        ("flyway.conf", b"flyway.url=jdbc:postgresql://db/shop\n"),
        (
            "V1__init.sql",
            b"SELECT '${flyway:database}';\nGRANT SELECT ON t TO ${flyway:user};\n",
        ),
    ]);
    let executing = migsafe::source::LoadOptions {
        executing: true,
        ..Default::default()
    };
    let e = err(migsafe::source::discover_with(dir.path(), None, &executing));
    assert!(
        e.contains(":2: placeholder `${flyway:user}` is known only to a live Flyway run"),
        "{e}"
    );
    // A configured user is used as is, and lint alone still reads the script.
    assert!(discover(dir.path(), None).is_ok());
    let configured = tree(&[
        (
            "flyway.conf",
            b"flyway.user=deployer\nflyway.url=jdbc:postgresql://db/shop\n",
        ),
        ("V1__init.sql", b"GRANT SELECT ON t TO ${flyway:user};\n"),
    ]);
    let p = migsafe::source::discover_with(configured.path(), None, &executing).unwrap();
    assert_eq!(up_text(&p, 0), "GRANT SELECT ON t TO deployer;\n");
}

#[test]
fn flyway_placeholder_replacement_can_be_off() {
    let dir = tree(&[
        ("flyway.conf", b"flyway.placeholderReplacement=false\n"),
        ("V1__init.sql", b"SELECT '${anything}';"),
    ]);
    let p = discover(dir.path(), None).unwrap();
    assert_eq!(up_text(&p, 0), "SELECT '${anything}';");
}

#[test]
fn flyway_placeholder_without_value_fails_closed() {
    let dir = tree(&[
        ("flyway.conf", b"flyway.placeholders.schema=app\n"),
        (
            "V1__init.sql",
            b"SELECT 1;\n\nDROP TABLE ${schema}.${victim};\n",
        ),
    ]);
    assert_eq!(
        err(discover(dir.path(), None)),
        format!(
            "{}:3: placeholder `${{victim}}` has no value, and Flyway refuses to run a script with one; set `flyway.placeholders.victim` in flyway.conf, `victim` under `[flyway.placeholders]` in flyway.toml, or `placeholders = {{ victim = \"…\" }}` under `[flyway]` in migsafe.toml",
            at(&dir, "V1__init.sql")
        )
    );
    // An unknown built-in is no different.
    let builtin = tree(&[
        ("flyway.conf", b""),
        ("V1__init.sql", b"SELECT '${flyway:nope}';\n"),
    ]);
    assert!(
        err(discover(builtin.path(), None))
            .contains(":1: placeholder `${flyway:nope}` has no value")
    );
}

#[test]
fn diesel_metadata_toml() {
    let dir = tree(&[
        (
            "2024-01-01-000000_a/up.sql",
            b"CREATE INDEX CONCURRENTLY i ON t (a);",
        ),
        (
            "2024-01-01-000000_a/metadata.toml",
            b"run_in_transaction = false\n",
        ),
        ("2024-01-02-000000_b/up.sql", b"SELECT 1;"),
        (
            "2024-01-02-000000_b/metadata.toml",
            b"run_in_transaction = true\n",
        ),
        (".hidden/up.sql", b"SELECT 1;"),
        ("notes/readme.txt", b"not a migration"),
    ]);
    let p = discover(dir.path(), None).unwrap();
    assert_eq!(
        summary(&p),
        [
            "20240101000000_a up=SingleSimpleQuery down=-",
            "20240102000000_b up=WrappedTx down=-"
        ]
    );

    let bad = tree(&[
        ("2024-01-01-000000_a/up.sql", b"SELECT 1;"),
        (
            "2024-01-01-000000_a/metadata.toml",
            b"# why\nrun_in_transaction = \"no\"\n",
        ),
    ]);
    assert_eq!(
        err(discover(bad.path(), None)),
        format!(
            "{}:2: run_in_transaction must be true or false, found \"no\"",
            at(&bad, "2024-01-01-000000_a/metadata.toml")
        )
    );
    let broken = tree(&[
        ("2024-01-01-000000_a/up.sql", b"SELECT 1;"),
        (
            "2024-01-01-000000_a/metadata.toml",
            b"\nrun_in_transaction = \n",
        ),
    ]);
    assert!(err(discover(broken.path(), None)).starts_with(&format!(
        "{}:2: invalid TOML",
        at(&broken, "2024-01-01-000000_a/metadata.toml")
    )));
}

#[test]
fn sqlx_no_transaction_only_at_the_start() {
    let cargo: (&str, &[u8]) = ("Cargo.toml", b"[dependencies]\nsqlx = \"0.8\"\n");
    let dir = tree(&[
        cargo,
        (
            "1_index.sql",
            b"-- no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);\n",
        ),
        (
            "2_late.sql",
            b"\n-- no-transaction\nCREATE INDEX CONCURRENTLY j ON t (b);\n",
        ),
        ("3_simple.sql", b"SELECT 1;\n"),
    ]);
    let p = discover(dir.path(), None).unwrap();
    assert_eq!(p.runner, Runner::Sqlx);
    assert_eq!(
        summary(&p),
        [
            "1_index up=SingleSimpleQuery down=-",
            "2_late up=WrappedTx down=-",
            "3_simple up=WrappedTx down=-"
        ]
    );
    let bad = tree(&[cargo, ("abc_def.sql", b"SELECT 1;")]);
    assert_eq!(
        err(discover(bad.path(), Some(Runner::Sqlx))),
        format!(
            "{}:1: sqlx needs a 64-bit integer version before the first `_`, found `abc` (e.g. `0001_create_users.sql`)",
            at(&bad, "abc_def.sql")
        )
    );
}

#[test]
fn flyway_sql_conf() {
    let dir = tree(&[
        ("flyway.conf", b"flyway.locations=filesystem:.\n"),
        ("V1__a.sql", b"CREATE INDEX CONCURRENTLY i ON t (a);"),
        ("V1__a.sql.conf", b"# comment\nexecuteInTransaction=false\n"),
        ("V1_1__b.sql", b"SELECT 1;"),
        ("V1_1__b.sql.conf", b"executeInTransaction = true\n"),
        ("V10__c.sql", b"SELECT 1;"),
        ("afterMigrate.sql", b"ANALYZE;"),
    ]);
    let p = discover(dir.path(), None).unwrap();
    assert_eq!(
        summary(&p),
        [
            "1_a up=PerStatement down=-",
            "1.1_b up=WrappedTx down=-",
            "10_c up=FlywayAuto down=-"
        ]
    );

    let orphan = tree(&[
        ("V1__a.sql", b"SELECT 1;"),
        ("V1__b.sql.conf", b"executeInTransaction=false\n"),
    ]);
    assert_eq!(
        err(discover(orphan.path(), Some(Runner::Flyway))),
        format!(
            "{}:1: script configuration for `V1__b.sql`, which does not exist (misnamed?)",
            at(&orphan, "V1__b.sql.conf")
        )
    );
    let bad_value = tree(&[
        ("V1__a.sql", b"SELECT 1;"),
        ("V1__a.sql.conf", b"\nexecuteInTransaction=maybe\n"),
    ]);
    assert_eq!(
        err(discover(bad_value.path(), Some(Runner::Flyway))),
        format!(
            "{}:2: executeInTransaction must be `true` or `false`, found `maybe`",
            at(&bad_value, "V1__a.sql.conf")
        )
    );
    let misnamed = tree(&[("V1__a.sql", b"SELECT 1;"), ("V2_b.sql", b"SELECT 2;")]);
    assert_eq!(
        err(discover(misnamed.path(), Some(Runner::Flyway))),
        format!(
            "{}:1: not a Flyway migration name: expected `V<version>__<description>.sql` with two underscores",
            at(&misnamed, "V2_b.sql")
        )
    );
}

#[test]
fn numeric_order_survives_long_versions() {
    let dir = tree(&[
        ("10-b.sql", b"SELECT 10;"),
        ("9-a.sql", b"SELECT 9;"),
        ("123456789012345678901234567890-c.sql", b"SELECT 0;"),
        ("seed.sql", b"SELECT 'not a migration';"),
    ]);
    let p = discover(dir.path(), None).unwrap();
    let versions: Vec<&str> = p.migrations.iter().map(|m| m.version.as_str()).collect();
    assert_eq!(versions, ["9", "10", "123456789012345678901234567890"]);
}

#[test]
fn plain_rejects_up_down_pairs() {
    let dir = tree(&[("1-a.sql", b"SELECT 1;"), ("2_b.down.sql", b"SELECT 2;")]);
    assert_eq!(
        err(discover(dir.path(), Some(Runner::Plain))),
        format!(
            "{}:1: up/down file pairs are not plain numbered migrations; set `runner = \"sqlx\"` or `runner = \"golang-migrate\"`",
            at(&dir, "2_b.down.sql")
        )
    );
}

// ---------------------------------------------------------------------------------------------
// Explicit files
// ---------------------------------------------------------------------------------------------

#[test]
fn load_files_one_migration_per_file() {
    let dir = tree(&[
        ("20240101000000_goose.sql", b"-- +goose Up\nCREATE TABLE t (id int);\n-- +goose Down\nDROP TABLE t;\n"),
        ("20240102_dbmate.sql", b"-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON t (id);\n-- migrate:down\nDROP INDEX i;\n"),
        ("0003-plain.sql", b"CREATE INDEX CONCURRENTLY j ON t (id);\n"),
        ("adhoc.sql", b"SELECT 1;\n"),
    ]);
    let files: Vec<PathBuf> = [
        "20240101000000_goose.sql",
        "20240102_dbmate.sql",
        "0003-plain.sql",
        "adhoc.sql",
    ]
    .iter()
    .map(|f| dir.path().join(f))
    .collect();
    let p = load_files(&files).unwrap();
    assert_eq!(p.runner, Runner::Plain, "mixed markers");
    assert_eq!(p.root, dir.path());
    assert_eq!(
        summary(&p),
        [
            "20240101000000_goose up=WrappedTx down=WrappedTx",
            "20240102_dbmate up=SingleSimpleQuery down=WrappedTx",
            "0003_plain up=PerStatement down=-",
            "adhoc up=PerStatement down=-",
        ]
    );
    assert_eq!(p.migrations[0].up.text(), "CREATE TABLE t (id int);\n");
    assert_eq!(p.migrations[0].up.delimiting, Delimiting::Goose);
    assert_eq!(
        p.migrations[1].down.as_ref().unwrap().text(),
        "DROP INDEX i;\n"
    );

    let goose = load_files(&files[..1]).unwrap();
    assert_eq!(goose.runner, Runner::Goose);
    let dbmate = load_files(&files[1..2]).unwrap();
    assert_eq!(dbmate.runner, Runner::Dbmate);
    let example = load_files(&[PathBuf::from(
        "migrations-examples/plain/003-index-notes-notebook.sql",
    )])
    .unwrap();
    assert_eq!(example.root, Path::new("migrations-examples/plain"));
    assert_eq!(
        summary(&example),
        ["003_index-notes-notebook up=PerStatement down=-"]
    );
}

#[test]
fn load_files_reports_marker_errors() {
    let dir = tree(&[("1_x.sql", b"-- +goose Up\n-- +goose Up\n")]);
    assert_eq!(
        err(load_files(&[dir.path().join("1_x.sql")])),
        format!("{}:2: duplicate `-- +goose Up`", at(&dir, "1_x.sql"))
    );
}

/// Each runner's own order: diesel compares versions as strings, so lemmy's 14-digit
/// `2026-08-25-100000` runs after an 18-digit `2026072714331300` version; dbmate runs files in
/// name order; sqlx compares numbers.
#[test]
fn each_runner_orders_versions_its_own_way() {
    let diesel = tree(&[
        ("diesel.toml", b"[print_schema]\n"),
        ("migrations/2025-01-01-000000_a/up.sql", b"SELECT 1;"),
        ("migrations/202607271433130000_b/up.sql", b"SELECT 2;"),
        ("migrations/2026-08-25-100000_c/up.sql", b"SELECT 3;"),
    ]);
    let p = discover(diesel.path(), Some(Runner::Diesel)).unwrap();
    let names: Vec<&str> = p.migrations.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    let sqlx = tree(&[
        ("migrations/9_a.sql", b"SELECT 1;"),
        ("migrations/10_b.sql", b"SELECT 2;"),
    ]);
    let p = discover(sqlx.path(), Some(Runner::Sqlx)).unwrap();
    let names: Vec<&str> = p.migrations.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    let dbmate = tree(&[
        (
            "db/migrations/001_a.sql",
            b"-- migrate:up\nSELECT 1;\n-- migrate:down\n",
        ),
        (
            "db/migrations/0010_b.sql",
            b"-- migrate:up\nSELECT 2;\n-- migrate:down\n",
        ),
    ]);
    let p = discover(dbmate.path(), Some(Runner::Dbmate)).unwrap();
    let names: Vec<&str> = p.migrations.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        ["b", "a"],
        "0010_b.sql sorts before 001_a.sql by name"
    );
}
