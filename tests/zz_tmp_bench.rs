use migsafe::snapshot::{capture, manifest::*, restore, store::Store};
use std::time::Instant;
#[test]
fn bench() {
    let Ok(url) = std::env::var("BENCH_URL") else {
        return;
    };
    let target = migsafe::pg::connect::from_url(&url).unwrap();
    let mut client = migsafe::pg::connect::connect(&target).unwrap();
    let store = Store::new("/tmp/tb/store");
    let t = Instant::now();
    let mut w = store.begin("bench").unwrap();
    let mut tx = client.transaction().unwrap();
    let database = DatabaseIdentity::read(&mut tx).unwrap();
    let got = capture::capture(
        &mut tx,
        &target,
        &mut w,
        &capture::requests_for("ALTER TABLE orders DROP COLUMN note").unwrap(),
        &indicatif::ProgressBar::hidden(),
    )
    .unwrap();
    tx.commit().unwrap();
    let m = w
        .commit(Manifest {
            schema_version: 0,
            id: String::new(),
            kind: Kind::Targeted,
            target: String::new(),
            database,
            guards: None,
            objects: got.objects,
            files: vec![],
            created_at: String::new(),
            capture_ms: 0,
            migsafe_version: String::new(),
            notes: vec![],
        })
        .unwrap();
    eprintln!("capture {:?}", t.elapsed());
    client
        .batch_execute(
            "ALTER TABLE orders DROP COLUMN note; ALTER TABLE orders ADD COLUMN note text;",
        )
        .unwrap();
    let e = store.find(&m.id).unwrap();
    let t = Instant::now();
    let mut tx = client.transaction().unwrap();
    let r = restore::restore(
        &mut tx,
        &e,
        e.manifest().unwrap(),
        restore::RestoreOptions::default(),
        &indicatif::ProgressBar::hidden(),
    )
    .unwrap();
    tx.commit().unwrap();
    eprintln!("restore {:?} {:?}", t.elapsed(), r.objects[0]);
}
