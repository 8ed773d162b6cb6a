//! `ev fmt`: the canonical layout of an ev file.
//!
//! The formatter works on the token stream and keeps the author's line
//! breaks: it decides spacing within lines and indentation, never where
//! lines break. So it preserves every comment and blank-line group (runs of
//! blank lines become one), cannot change a program's meaning (tokens and
//! string literals are kept as written), and is idempotent. The style:
//!
//! - two spaces per level of brackets opened on earlier lines (several
//!   brackets opened on one line count once); a closing bracket starting a
//!   line goes back to its opener's level;
//! - inside an item, lines outside any bracket are indented one level, so
//!   only items start in column 0;
//! - one space around binary operators, `=`, `=>` and keywords, after `,`
//!   and `:`, and inside record braces (`{ a = 1 }`); none inside `()` and
//!   `[]`, before `,` `.` `:` `?`, after `.`, unary `-` and `!`, or before
//!   the `(` of a call and the `[` of an index;
//! - a trailing comment is set off by two spaces; at most one blank line in
//!   a row, none at the start, one newline at the end.
//!
//! A file with syntax errors is refused (the errors are returned).

use crate::lexer::lex;
use crate::source::FileId;
use crate::token::{Keyword, Punct, Token};
use crate::SyntaxError;

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Open(Punct),
    Close,
    Op(Punct),
    Kw(Keyword),
    /// Identifiers, numbers, strings: values and names.
    Word,
    Comment,
}

#[derive(Clone, Debug)]
struct Atom {
    kind: Kind,
    text: String,
    start: usize,
    end: usize,
}

/// The atoms of a file: tokens (a whole string literal, interpolations
/// included, is one atom) and comments, in source order.
fn atoms(src: &str) -> Vec<Atom> {
    let lexed = lex(src, FileId(0));
    let mut out = Vec::new();
    let mut string_depth = 0usize;
    let mut string_start = 0usize;
    for (token, range) in &lexed.tokens {
        match token {
            Token::StrStart => {
                if string_depth == 0 {
                    string_start = range.start;
                }
                string_depth += 1;
                continue;
            }
            Token::StrEnd => {
                string_depth = string_depth.saturating_sub(1);
                if string_depth == 0 {
                    out.push(Atom {
                        kind: Kind::Word,
                        text: src[string_start..range.end].to_string(),
                        start: string_start,
                        end: range.end,
                    });
                }
                continue;
            }
            _ if string_depth > 0 => continue,
            _ => {}
        }
        let text = src[range.clone()].to_string();
        let kind = match token {
            Token::Punct(p @ (Punct::LParen | Punct::LBracket | Punct::LBrace)) => Kind::Open(*p),
            Token::Punct(Punct::RParen | Punct::RBracket | Punct::RBrace) => Kind::Close,
            Token::Punct(p) => Kind::Op(*p),
            Token::Kw(k) => Kind::Kw(*k),
            _ => Kind::Word,
        };
        out.push(Atom {
            kind,
            text,
            start: range.start,
            end: range.end,
        });
    }
    for c in &lexed.comments {
        let (start, end) = (c.span.start as usize, c.span.end as usize);
        out.push(Atom {
            kind: Kind::Comment,
            text: src[start..end].trim_end().to_string(),
            start,
            end,
        });
    }
    out.sort_by_key(|a| a.start);
    out
}

fn is_binary(p: Punct) -> bool {
    !matches!(
        p,
        Punct::Comma | Punct::Dot | Punct::Colon | Punct::Question | Punct::Bang
    )
}

/// Whether `-` after `prev` is a unary minus.
fn unary_after(prev: Option<&Atom>) -> bool {
    match prev.map(|a| &a.kind) {
        None | Some(Kind::Open(_)) | Some(Kind::Op(_)) | Some(Kind::Comment) => true,
        Some(Kind::Kw(k)) => !matches!(k, Keyword::Null | Keyword::True | Keyword::False),
        Some(Kind::Word) | Some(Kind::Close) => false,
    }
}

/// The separator between two atoms on one line.
fn separator(prev: &Atom, prev_unary: bool, next: &Atom) -> &'static str {
    use Kind::*;
    if next.kind == Comment {
        return "  ";
    }
    match (&prev.kind, &next.kind) {
        (Open(Punct::LBrace), Close) if next.text == "}" => "",
        (Open(Punct::LBrace), _) => " ",
        (_, Close) if next.text == "}" => " ",
        (Open(_), _) | (_, Close) => "",
        (_, Op(Punct::Comma | Punct::Dot | Punct::Colon | Punct::Question)) => "",
        (Op(Punct::Dot | Punct::Bang), _) => "",
        (Op(Punct::Minus), _) if prev_unary => "",
        // Calls and indexes: `f(x)`, `xs[0]`, `fn(x)`.
        (Word | Close, Open(Punct::LParen | Punct::LBracket)) => "",
        (Kw(Keyword::Fn), Open(Punct::LParen)) => "",
        (Op(p), _) if is_binary(*p) || *p == Punct::Comma || *p == Punct::Colon => " ",
        (Op(Punct::Question), _) => "",
        _ => " ",
    }
}

/// Whether an atom continues an expression from the line before.
fn continues(first: &Atom, prev: Option<&Atom>) -> bool {
    let operator = |a: &Atom| match &a.kind {
        Kind::Op(p) => is_binary(*p),
        Kind::Kw(k) => matches!(
            k,
            Keyword::Then | Keyword::Else | Keyword::Or | Keyword::Where
        ),
        _ => false,
    };
    operator(first) || prev.is_some_and(|p| matches!(&p.kind, Kind::Op(op) if is_binary(*op)))
}

/// The indentation level of a line starting with `first`: (base, total),
/// where the total adds one level for a line continuing an expression or
/// a `let`'s bindings.
fn line_indent(
    first: &Atom,
    prev: Option<&Atom>,
    open: &[usize],
    binders: &[(Keyword, usize)],
    item_starts: &[usize],
    item_ranges: &[(usize, usize)],
) -> (usize, usize) {
    let depth = open.len();
    // Inside a `let` (before its `in`) opened at this depth.
    let in_let = binders
        .iter()
        .any(|(k, d)| *k == Keyword::Let && *d == depth)
        && !matches!(first.kind, Kind::Kw(Keyword::In | Keyword::Let));
    match open.last() {
        None => {
            let in_item = !item_starts.contains(&first.start)
                && item_ranges
                    .iter()
                    .any(|(s, e)| *s < first.start && first.start < *e);
            if !in_item {
                return (0, 0);
            }
            let extra = usize::from(in_let)
                + usize::from(matches!(&first.kind, Kind::Op(p) if is_binary(*p)));
            (1, 1 + extra)
        }
        Some(&opener) if first.kind == Kind::Close => (opener, opener),
        Some(&opener) => {
            let extra = usize::from(in_let) + usize::from(continues(first, prev));
            (opener + 1, opener + 1 + extra)
        }
    }
}

/// Formats a file; refuses one with syntax errors.
pub fn format(src: &str) -> Result<String, Vec<SyntaxError>> {
    let parsed = crate::parse_module(src, FileId(0));
    if !parsed.errors.is_empty() {
        return Err(parsed.errors);
    }
    // Where items start: only they stay in column 0.
    let item_starts: Vec<usize> = parsed
        .module
        .items
        .iter()
        .map(|i| i.span.start as usize)
        .collect();
    let item_ranges: Vec<(usize, usize)> = parsed
        .module
        .items
        .iter()
        .map(|i| (i.span.start as usize, i.span.end as usize))
        .collect();
    let atoms = atoms(src);
    let mut out = String::new();
    // For each open bracket, the indentation of the line it was opened on.
    let mut open: Vec<usize> = Vec::new();
    // `let` and `for` waiting for their `in`, with the bracket depth.
    let mut binders: Vec<(Keyword, usize)> = Vec::new();
    // The line's level without continuation extras (what brackets opened on
    // it indent from), and with them.
    let mut base = 0usize;
    let mut prev: Option<&Atom> = None;
    let mut prev_unary = false;
    for (i, atom) in atoms.iter().enumerate() {
        let newlines = match prev {
            None => 0,
            Some(p) => src[p.end..atom.start].matches('\n').count(),
        };
        if prev.is_some() && newlines > 0 {
            out.push('\n');
            if newlines > 1 {
                out.push('\n');
            }
        }
        if prev.is_none() || newlines > 0 {
            let indent;
            (base, indent) = line_indent(atom, prev, &open, &binders, &item_starts, &item_ranges);
            for _ in 0..indent {
                out.push_str("  ");
            }
        } else if let Some(p) = prev {
            out.push_str(separator(p, prev_unary, atom));
        }
        out.push_str(&atom.text);
        match &atom.kind {
            Kind::Open(_) => open.push(base),
            Kind::Close => {
                open.pop();
                binders.retain(|(_, depth)| *depth <= open.len());
            }
            // A top-level `let` item has no `in`.
            Kind::Kw(Keyword::Let)
                if open.is_empty()
                    && (item_starts.contains(&atom.start)
                        || prev.is_some_and(|p| {
                            p.kind == Kind::Kw(Keyword::Export) && item_starts.contains(&p.start)
                        })) => {}
            Kind::Kw(k @ (Keyword::Let | Keyword::For)) => binders.push((*k, open.len())),
            Kind::Kw(Keyword::In)
                if binders
                    .last()
                    .is_some_and(|(_, depth)| *depth == open.len()) =>
            {
                binders.pop();
            }
            _ => {}
        }
        prev_unary = atom.kind == Kind::Op(Punct::Minus)
            && unary_after(i.checked_sub(1).and_then(|j| atoms.get(j)));
        prev = Some(atom);
    }
    if !out.is_empty() {
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::format;

    #[test]
    fn spacing_indentation_and_comments() {
        let src = "let  x=[1,2 ,3]   # three\n\n\n\nexport y = {a=1,b=f( x )[0],c= -1}\nmachine m {\n    platform=\"x\"\n  tags=[\n\"a\",\n  ]\n}\n";
        let out = format(src).expect("formats");
        assert_eq!(
            out,
            "let x = [1, 2, 3]  # three\n\nexport y = { a = 1, b = f(x)[0], c = -1 }\nmachine m {\n  platform = \"x\"\n  tags = [\n    \"a\",\n  ]\n}\n"
        );
        assert_eq!(format(&out).expect("again"), out, "idempotent");
    }

    #[test]
    fn syntax_errors_are_refused() {
        assert!(format("let x = [1,").is_err());
    }
}
