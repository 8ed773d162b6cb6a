//! Smoke tests of the parser on small inputs; the golden suite in ev-core covers the rest.

use ev_syntax::{parse_module, FileId};

#[test]
fn parses_issue_sketch() {
    let src = r#"
import { magic } from "magic/magic.ev"
import "jupiter/jupiter.ev" as j
let keys = json("magic/public_keys.json")
export magic = { ssh = keys.ssh, default_ttl = 300 }
domain "yuto.sh" {
  records = [
    a("", "75.2.60.5"),
    mx("", [ { exchange = "eforward1.registrar-servers.com.", preference = 10 } ]),
    a("ethane", jupiter.outputs.ethane.ipAddress, ttl = 60, comment = "Ethane ${x + 1} IP"),
    cname("www", "modest-euler-7ef43a.netlify.app."),
  ]
  ttl = x.y or 3
  nested.path = [ r for r in xs if r.ok ] |> map(fn(x) => x * 2) |> len
}
schema Machine {
  ## The host name.
  name: String
  platform: "x86_64-linux" | "aarch64-darwin" = "x86_64-linux"
  port?: Int where port > 0 else "port must be positive"
  tags: [String] = []
  check self.name != "" else "empty"
}
kind machine: Machine
"#;
    let parsed = parse_module(src, FileId(0));
    assert!(parsed.errors.is_empty(), "{:#?}", parsed.errors);
    assert_eq!(parsed.module.items.len(), 7, "{:#?}", parsed.module.items);
}

#[test]
fn recovers_from_several_errors() {
    let src = "let a = (1 + \nlet b = 2\nlet c = [1, 2 +]\nlet d = { x = , y = 2 }\nlet e = 3\n";
    let parsed = parse_module(src, FileId(0));
    assert!(parsed.errors.len() >= 3, "{:#?}", parsed.errors);
    let lets = parsed
        .module
        .items
        .iter()
        .filter(|i| matches!(i.kind, ev_syntax::ast::ItemKind::Let { .. }))
        .count();
    assert!(lets >= 3, "{:#?}", parsed.module.items);
}

/// A file saved with CRLF line ends means what the LF file means: the
/// multi-line string holds `\n`, also across a line continuation; an
/// escaped `\r` stays.
#[test]
fn crlf_in_multi_line_strings_is_normalised() {
    use ev_syntax::lexer::lex;
    use ev_syntax::token::Token;
    let texts = |src: &str| -> Vec<String> {
        lex(src, FileId(0))
            .tokens
            .iter()
            .filter_map(|(t, _)| match t {
                Token::Text(t) => Some(t.to_string()),
                _ => None,
            })
            .collect()
    };
    let lf = "let s = \"\"\"\n  a\n  b \\\n  c\n  d\\r\n  \"\"\"\n";
    let crlf = lf.replace('\n', "\r\n");
    assert_eq!(texts(lf), vec!["a\nb   c\nd\r\n".to_string()]);
    assert_eq!(texts(&crlf), texts(lf));
}
