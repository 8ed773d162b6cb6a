use ev_core::fs::OsFs;
use std::time::Instant;
fn main() {
    let dir = std::env::args().nth(1).unwrap();
    ev_core::eval::run_with_stack(move || {
        for _ in 0..5 {
            let fs = OsFs::new(std::path::PathBuf::from(dir.clone()));
            let t = Instant::now();
            let program = ev_core::load(&fs, "everything.ev");
            let t1 = t.elapsed();
            let ev = ev_core::Evaluator::new(&program, &fs);
            let d = ev_core::check::check(&program, &ev);
            let t2 = t.elapsed();
            let (_m, _d2) = ev_core::model::Model::build(&program, &ev);
            let t3 = t.elapsed();
            let p0 = Instant::now();
            for m in &program.modules {
                let src = program.sources.get(m.file).unwrap().text.clone();
                let _ = ev_syntax::parse_module(&src, m.file);
            }
            println!(
                "load {:?} check {:?} model {:?} diags {} reparse-all {:?}",
                t1,
                t2 - t1,
                t3 - t2,
                d.len(),
                p0.elapsed()
            );
        }
    });
}
