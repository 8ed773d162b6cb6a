//! Formatter golden cases: each `tests/format/*.ev` is an unformatted
//! input; its snapshot is the `ev fmt` output, which must format to itself.

#[test]
fn format_cases() {
    insta::glob!("format/*.ev", |path| {
        let src = std::fs::read_to_string(path).expect("read case");
        let out = ev_syntax::format::format(&src).expect("the case has no syntax errors");
        assert_eq!(
            ev_syntax::format::format(&out).expect("formats again"),
            out,
            "formatting twice changes nothing"
        );
        insta::assert_snapshot!(out);
    });
}
