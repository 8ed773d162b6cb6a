//! Finding what is under the cursor: in the AST (a field access, a resource
//! declaration) and, for half-typed text the parser could not use, in the
//! tokens (the records and lists enclosing the cursor).

use std::ops::Range;

use ev_syntax::ast::{self, Expr, ExprKind, KeyKind, StrPart};
use ev_syntax::lexer::lex;
use ev_syntax::token::{Keyword, Punct, Token};
use ev_syntax::{FileId, Span};

/// Whether `offset` is inside `span` (its end included: the cursor right
/// after a name is on it).
pub(crate) fn touches(span: Span, offset: u32) -> bool {
    span.start <= offset && offset <= span.end
}

/// The direct subexpressions of an expression (see [`Expr::children`]).
pub(crate) fn children_of(e: &Expr) -> Vec<&Expr> {
    e.children()
}

/// The top-level expressions of a module (see [`ast::Module::exprs`]).
pub(crate) fn item_exprs(module: &ast::Module) -> Vec<&Expr> {
    module.exprs()
}

/// The field access whose field name is at `offset`: `(access, field name,
/// field span)`. The access's own span covers `target.field`.
pub(crate) fn select_at(module: &ast::Module, offset: u32) -> Option<(&Expr, &str, Span)> {
    let mut stack: Vec<&Expr> = item_exprs(module)
        .into_iter()
        .filter(|e| touches(e.span, offset))
        .collect();
    while let Some(e) = stack.pop() {
        if let ExprKind::Select { field, .. } = &e.kind {
            if let KeyKind::Static(name) = &field.kind {
                if touches(field.span, offset) {
                    return Some((e, name, field.span));
                }
            }
        }
        stack.extend(
            children_of(e)
                .into_iter()
                .filter(|c| touches(c.span, offset)),
        );
    }
    None
}

/// Every string literal without interpolation in the module's
/// expressions, with its span (resource references written as names are
/// among them).
pub(crate) fn plain_strings(module: &ast::Module) -> Vec<(String, Span)> {
    let mut out = Vec::new();
    let mut stack = item_exprs(module);
    while let Some(e) = stack.pop() {
        if let ExprKind::Str(parts) = &e.kind {
            if let [StrPart::Text(t)] = parts.as_slice() {
                out.push((t.clone(), e.span));
            }
        }
        stack.extend(children_of(e));
    }
    out
}

/// One step from a resource's body down to the cursor.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Step {
    /// Into a field's value.
    Field(String),
    /// Into a list's element.
    Element,
}

/// Where the cursor is, read from the tokens (works on half-typed text).
#[derive(Debug, Default)]
pub(crate) struct Context {
    /// The kind of the resource whose body holds the cursor.
    pub kind: Option<String>,
    /// From that body to the innermost enclosing record or list.
    pub steps: Vec<Step>,
    /// The innermost enclosing bracket is a record's `{`.
    pub in_record: bool,
    /// The cursor is after `key =` in the innermost record: the key.
    pub value_of: Option<String>,
    /// Keys already written in the innermost record.
    pub siblings: Vec<String>,
    /// Inside a string literal: the text before the cursor.
    pub in_string: Option<String>,
    /// The string literal is an import path.
    pub import_path: bool,
    /// The word (name characters) right before the cursor.
    pub word: Range<usize>,
    /// The `a.b.` chain before the word, when the word follows a dot.
    pub receiver: Option<String>,
    /// At the top level (not inside any bracket).
    pub top_level: bool,
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// Reads the context of the cursor at byte `offset` of `src`.
pub(crate) fn context(src: &str, offset: usize) -> Context {
    let offset = offset.min(src.len());
    let mut ctx = Context::default();
    let before = src.get(..offset).unwrap_or("");
    let word_start = before
        .char_indices()
        .rev()
        .take_while(|(_, c)| is_name_char(*c))
        .last()
        .map(|(i, _)| i)
        .unwrap_or(offset);
    ctx.word = word_start..offset;
    // A receiver: `a.b.` right before the word.
    if before.get(..word_start).is_some_and(|b| b.ends_with('.')) {
        let chain_end = word_start - 1;
        let chain_start = before[..chain_end]
            .char_indices()
            .rev()
            .take_while(|(_, c)| is_name_char(*c) || *c == '.')
            .last()
            .map(|(i, _)| i)
            .unwrap_or(chain_end);
        let chain = &before[chain_start..chain_end];
        if !chain.is_empty() && !chain.starts_with('.') {
            ctx.receiver = Some(chain.to_string());
        }
    }
    let lexed = lex(src, FileId(0));
    let tokens: Vec<&(Token<'_>, Range<usize>)> = lexed
        .tokens
        .iter()
        .filter(|(_, r)| r.start < offset)
        .collect();
    // Inside a string: the nearest unclosed StrStart.
    let mut open_string: Option<usize> = None;
    for (i, (t, _)) in tokens.iter().enumerate() {
        match t {
            Token::StrStart => open_string = Some(i),
            Token::StrEnd => open_string = None,
            _ => {}
        }
    }
    if let Some(i) = open_string {
        let start = tokens.get(i).map(|(_, r)| r.end).unwrap_or(offset);
        ctx.in_string = Some(src.get(start..offset).unwrap_or("").to_string());
        ctx.import_path = i > 0
            && matches!(
                tokens.get(i - 1).map(|(t, _)| t),
                Some(Token::Kw(Keyword::Import)) | Some(Token::Kw(Keyword::From))
            );
    }
    let end = open_string.unwrap_or(tokens.len());
    // Unclosed openers, innermost last.
    let mut openers: Vec<usize> = Vec::new();
    for (i, (t, _)) in tokens.iter().enumerate().take(end) {
        match t {
            Token::Punct(Punct::LBrace | Punct::LBracket | Punct::LParen) => openers.push(i),
            Token::Punct(Punct::RBrace | Punct::RBracket | Punct::RParen) => {
                openers.pop();
            }
            Token::InterpStart => openers.push(i),
            Token::InterpEnd => {
                openers.pop();
            }
            _ => {}
        }
    }
    ctx.top_level = openers.is_empty();
    let token = |i: usize| tokens.get(i).map(|(t, _)| t);
    for (n, &open) in openers.iter().enumerate() {
        let outermost = n == 0;
        if outermost {
            // `kind name {` (optionally `export kind "name" {`).
            if matches!(token(open), Some(Token::Punct(Punct::LBrace))) {
                ctx.kind = resource_header(src, &tokens, open);
            }
            if ctx.kind.is_none() {
                // Not a resource body: no schema to follow.
                ctx.steps.clear();
                continue;
            }
        } else {
            ctx.steps
                .extend(key_before(&tokens, open).into_iter().map(Step::Field));
        }
        match token(open) {
            Some(Token::Punct(Punct::LBracket)) => ctx.steps.push(Step::Element),
            Some(Token::Punct(Punct::LParen)) | Some(Token::InterpStart) => {
                // Inside a call or interpolation: the schema no longer applies.
                ctx.kind = None;
            }
            _ => {}
        }
    }
    if ctx.kind.is_none() {
        ctx.steps.clear();
    }
    if let Some(&inner) = openers.last() {
        ctx.in_record = matches!(token(inner), Some(Token::Punct(Punct::LBrace)));
        if ctx.in_record {
            // Keys written at this level, and whether the cursor follows
            // `key =`. A comma, or a line break after a complete value,
            // ends a field.
            let mut depth = 0usize;
            let mut last_key: Option<String> = None;
            let mut after_eq = false;
            let mut previous: Option<(&Token<'_>, usize)> = None;
            let ends_value = |prev: Option<(&Token<'_>, usize)>, next_start: usize| {
                prev.is_some_and(|(t, end)| {
                    !matches!(t, Token::Punct(p) if !matches!(p, Punct::RBrace | Punct::RBracket | Punct::RParen))
                        && src.get(end..next_start).is_some_and(|gap| gap.contains('\n'))
                })
            };
            for (t, r) in tokens.iter().take(end).skip(inner + 1) {
                if depth == 0 && after_eq && ends_value(previous, r.start) {
                    after_eq = false;
                    last_key = None;
                }
                match t {
                    Token::Punct(Punct::LBrace | Punct::LBracket | Punct::LParen)
                    | Token::InterpStart => depth += 1,
                    Token::Punct(Punct::RBrace | Punct::RBracket | Punct::RParen)
                    | Token::InterpEnd => depth = depth.saturating_sub(1),
                    Token::Punct(Punct::Comma) if depth == 0 => {
                        after_eq = false;
                        last_key = None;
                    }
                    Token::Punct(Punct::Eq) if depth == 0 => {
                        if let Some(k) = &last_key {
                            ctx.siblings.push(k.clone());
                        }
                        after_eq = true;
                    }
                    Token::Ident(name) if depth == 0 && !after_eq => {
                        last_key = Some(name.to_string())
                    }
                    _ => {}
                }
                if depth == 0
                    || matches!(
                        t,
                        Token::Punct(Punct::LBrace | Punct::LBracket | Punct::LParen)
                    )
                {
                    previous = Some((t, r.end));
                }
            }
            // The cursor's word itself is not a finished value.
            let word_is_last = end
                .checked_sub(1)
                .and_then(|i| tokens.get(i))
                .is_some_and(|(_, r)| r.start >= word_start && word_start < offset);
            if after_eq && !word_is_last && ends_value(previous, word_start) {
                after_eq = false;
            }
            if after_eq {
                ctx.value_of = last_key;
            }
        }
    }
    ctx
}

/// The kind of a resource whose body holds token `open`: the item starts
/// at the last token in column 0 before it, as `[export] kind name ...`
/// (the body may be `{ ... }` or `base(...) & { ... }`).
fn resource_header(
    src: &str,
    tokens: &[&(Token<'_>, Range<usize>)],
    open: usize,
) -> Option<String> {
    let token = |i: usize| tokens.get(i).map(|(t, _)| t);
    let at_line_start = |i: usize| {
        tokens.get(i).is_some_and(|(_, r)| {
            r.start == 0 || src.get(..r.start).is_some_and(|b| b.ends_with('\n'))
        })
    };
    let mut start = open;
    while !at_line_start(start) {
        start = start.checked_sub(1)?;
    }
    if matches!(token(start), Some(Token::Kw(Keyword::Export))) {
        start += 1;
    }
    match (token(start)?, token(start + 1)?) {
        (Token::Ident(kind), Token::Ident(_) | Token::StrStart) => Some(kind.to_string()),
        _ => None,
    }
}

/// The key path written before `= <opener>`: `a.b = {` gives `[a, b]`.
fn key_before(tokens: &[&(Token<'_>, Range<usize>)], open: usize) -> Vec<String> {
    let token = |i: usize| tokens.get(i).map(|(t, _)| t);
    let Some(eq) = open.checked_sub(1) else {
        return Vec::new();
    };
    if !matches!(token(eq), Some(Token::Punct(Punct::Eq))) {
        return Vec::new();
    }
    let mut keys = Vec::new();
    let mut i = eq;
    while i > 0 {
        i -= 1;
        match token(i) {
            Some(Token::Ident(k)) => keys.push(k.to_string()),
            Some(Token::Punct(Punct::Dot)) => continue,
            _ => break,
        }
        if !matches!(
            i.checked_sub(1).and_then(token),
            Some(Token::Punct(Punct::Dot))
        ) {
            break;
        }
    }
    keys.reverse();
    keys
}

#[cfg(test)]
mod tests {
    use super::{context, Step};

    /// The context at the `|` in `text`.
    fn at(text: &str) -> super::Context {
        let offset = text.find('|').expect("cursor");
        context(&text.replace('|', ""), offset)
    }

    #[test]
    fn steps_follow_records_and_lists_into_a_resource_body() {
        let ctx = at("app web {\n  ports = [\n    { name = \"http\", | }\n  ]\n}\n");
        assert_eq!(ctx.kind.as_deref(), Some("app"));
        assert_eq!(ctx.steps, [Step::Field("ports".into()), Step::Element]);
        assert!(ctx.in_record);
        assert_eq!(ctx.value_of, None);
        assert_eq!(ctx.siblings, ["name"]);
    }

    #[test]
    fn a_line_break_after_a_value_ends_the_field() {
        let ctx = at("machine m {\n  os = \"nixos\"\n  |\n}\n");
        assert_eq!(ctx.value_of, None);
        assert_eq!(ctx.siblings, ["os"]);
        let ctx = at("machine m {\n  os =\n    |\n}\n");
        assert_eq!(
            ctx.value_of.as_deref(),
            Some("os"),
            "a value may start on the next line"
        );
    }

    #[test]
    fn strings_imports_and_receivers() {
        let ctx = at("import \"venus/ma|\"\n");
        assert_eq!(ctx.in_string.as_deref(), Some("venus/ma"));
        assert!(ctx.import_path);
        let ctx = at("cluster c {\n  machine = \"me|\"\n}\n");
        assert_eq!(ctx.in_string.as_deref(), Some("me"));
        assert_eq!(ctx.value_of.as_deref(), Some("machine"));
        let ctx = at("let a = stack.jupiter.out|");
        assert_eq!(ctx.receiver.as_deref(), Some("stack.jupiter"));
        assert!(ctx.top_level);
        let ctx = at("let a = f({ x = 1, | })");
        assert_eq!(ctx.kind, None, "a record in a call has no schema here");
    }
}
