//! The VS Code grammar (editors/vscode) stays in step with the language:
//! it names every keyword and every builtin function.

use std::path::Path;

#[test]
fn grammar_names_every_keyword_and_builtin() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../editors/vscode/syntaxes/ev.tmLanguage.json");
    let grammar = std::fs::read_to_string(&path).expect("the grammar exists");
    let json: serde_json::Value = serde_json::from_str(&grammar).expect("the grammar is JSON");
    assert_eq!(json["scopeName"], "source.ev");
    for b in ev_core::builtins::Builtin::ALL {
        assert!(
            grammar.contains(&format!("|{}|", b.name()))
                || grammar.contains(&format!("({}|", b.name()))
                || grammar.contains(&format!("|{})", b.name())),
            "the grammar's builtin list lacks `{}`",
            b.name()
        );
    }
    for keyword in [
        "let", "in", "if", "then", "else", "fn", "import", "from", "as", "export", "for", "schema",
        "kind", "null", "true", "false", "or", "check", "where",
    ] {
        assert!(
            ev_syntax::token::Keyword::from_word(keyword).is_some(),
            "`{keyword}` is no longer a keyword: update this list and the grammar"
        );
        assert!(
            grammar.contains(keyword),
            "the grammar lacks the keyword `{keyword}`"
        );
    }
}
