#[test]
fn dump() {
    let text = std::fs::read_to_string("/tmp/lk/in.sql").unwrap();
    let script = crate::source::Script {
        path: "x.sql".into(),
        source: std::sync::Arc::from(text.as_str()),
        range: 0..text.len(),
        mode: crate::source::ExecMode::WrappedTx,
        delimiting: crate::source::Delimiting::Standard,
    };
    let mut cat = crate::classify::Catalog::default();
    let a = crate::classify::analyze_script(&script, &mut cat, Default::default()).unwrap();
    for s in &a.steps {
        println!("--- {:?} {}", s.statement.understanding, a.text(s));
        for e in &s.effects {
            println!("   {:?}\n      {:?} new={}", e.op, e.effect, e.new_table);
        }
    }
}
