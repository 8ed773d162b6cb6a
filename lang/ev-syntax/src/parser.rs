//! The parser: chumsky combinators over the lexer's spanned tokens.
//!
//! Error recovery works at two levels. First the token stream is cut into
//! item chunks at tokens that start a line in column 0 and look like the
//! start of an item (`let`, `export`, `import`, `schema`, `kind`, or
//! `name name`/`name "name"`); each chunk is parsed on its own, so an error
//! in one item never hides errors in the next. Inside an item, bracketed
//! groups recover with `nested_delimiters` and record fields skip to the
//! next separator.

use chumsky::input::{Input as _, MappedInput};
use chumsky::pratt::{infix, left, postfix, prefix};
use chumsky::prelude::*;

use crate::ast::*;
use crate::error::{SyntaxError, SyntaxErrorKind};
use crate::lexer::{self, Comment};
use crate::source::FileId;
use crate::span::Span;
use crate::token::{Keyword as K, Punct as P, Token};

type Tok<'s> = (Token<'s>, SimpleSpan);
type In<'t, 's> = MappedInput<'t, Token<'s>, SimpleSpan, &'t [Tok<'s>]>;
type Extra<'t, 's> = extra::Err<Rich<'t, Token<'s>, SimpleSpan>>;

/// The result of parsing a file: always a module, plus every error found.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The (possibly partial) module.
    pub module: Module,
    /// The file's comments, for doc lookup and formatting.
    pub comments: Vec<Comment>,
    /// Lexical and syntax errors, in source order.
    pub errors: Vec<SyntaxError>,
}

impl Parsed {
    /// The `##` doc comment block that ends right before byte `offset`
    /// (only whitespace between), joined into one string.
    pub fn doc_before(&self, source: &str, offset: u32) -> Option<String> {
        let mut lines = Vec::new();
        let mut cursor = offset as usize;
        // Comments are in source order: start from the last one ending
        // before `offset` (a search, not a scan per item of the file).
        let before = self
            .comments
            .partition_point(|c| c.span.end as usize <= cursor);
        for comment in self.comments[..before].iter().rev() {
            let end = comment.span.end as usize;
            if end > cursor {
                continue;
            }
            let between = source.get(end..cursor).unwrap_or("x");
            if !comment.doc || !between.trim().is_empty() || between.matches('\n').count() > 1 {
                break;
            }
            lines.push(comment.text.strip_prefix(' ').unwrap_or(&comment.text));
            cursor = comment.span.start as usize;
        }
        if lines.is_empty() {
            return None;
        }
        lines.reverse();
        Some(lines.join("\n"))
    }
}

/// Parses a whole file.
pub fn parse_module(src: &str, file: FileId) -> Parsed {
    let lexed = lexer::lex(src, file);
    let mut errors = lexed.errors;
    let tokens: Vec<Tok<'_>> = lexed
        .tokens
        .into_iter()
        .map(|(t, r)| (t, SimpleSpan::from(r)))
        .collect();
    let mut items = Vec::new();
    // Built once: building the combinator tree costs as much as parsing
    // a small item.
    let parser = items_parser(file);
    for chunk in item_chunks(src, &tokens) {
        let (start, end) = match (chunk.first(), chunk.last()) {
            (Some(first), Some(last)) => (first.1.start, last.1.end),
            _ => continue,
        };
        if let Some(deep) = too_deep(chunk) {
            errors.push(SyntaxError {
                kind: SyntaxErrorKind::Invalid(format!(
                    "brackets nested more than {MAX_NESTING} deep"
                )),
                span: Span::new(file, deep.start, deep.end),
            });
            items.push(Item {
                kind: ItemKind::Error,
                exported: false,
                span: Span::new(file, start, end),
            });
            continue;
        }
        let eoi = SimpleSpan::from(end..end);
        let (out, errs) = parser
            .parse(chunk.split_token_span(eoi))
            .into_output_errors();
        if let Some((item, error)) = terraform_resource(chunk, Span::new(file, start, end)) {
            // Its other errors all follow from the habit.
            items.push(item);
            errors.push(error);
            continue;
        }
        match out {
            Some(parsed) => items.extend(parsed),
            None => items.push(salvaged(chunk, Span::new(file, start, end))),
        }
        errors.extend(errs.into_iter().map(|e| convert_error(e, file)));
    }
    errors.sort_by_key(|e| (e.span.start, e.span.end));
    errors.dedup();
    Parsed {
        module: Module { items },
        comments: lexed.comments,
        errors,
    }
}

/// Terraform's `resource "KIND" "NAME" {` written out of habit: one error
/// saying how ev spells it, and the resource it meant (its body an error
/// node), so nothing else is reported about it.
fn terraform_resource(chunk: &[Tok<'_>], span: Span) -> Option<(Item, SyntaxError)> {
    let file = span.file;
    let [(Token::Ident("resource"), head), (Token::StrStart, _), (Token::Text(kind), kind_span), (Token::StrEnd, _), (Token::StrStart, open), (Token::Text(name), _), (Token::StrEnd, close), ..] =
        chunk
    else {
        return None;
    };
    let plain = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let written = if plain {
        name.to_string()
    } else {
        format!("{name:?}")
    };
    let error = SyntaxError {
        kind: SyntaxErrorKind::Invalid(format!(
            "ev declares resources as `KIND NAME {{ ... }}`, not Terraform's `resource \"KIND\" \"NAME\"`: write `{kind} {written} {{`"
        )),
        span: Span::new(file, head.start, close.end),
    };
    let item = Item {
        kind: broken_resource(
            (kind, Span::new(file, kind_span.start, kind_span.end)),
            (name, Span::new(file, open.start, close.end), false),
            span,
        ),
        exported: false,
        span,
    };
    Some((item, error))
}

/// A resource whose body failed to parse: declared, its body an error node.
fn broken_resource(kind: (&str, Span), name: (&str, Span, bool), body: Span) -> ItemKind {
    ItemKind::Resource(Resource {
        kind: Ident {
            name: kind.0.to_string(),
            span: kind.1,
        },
        name: ResourceName {
            value: name.0.to_string(),
            span: name.1,
            is_ident: name.2,
        },
        body: Expr {
            kind: ExprKind::Error,
            span: body,
        },
    })
}

/// An item that failed to parse, keeping what it declares when its head
/// is intact (`let NAME =`, `KIND NAME`, `KIND "NAME"`): its body becomes
/// an error node, so the name stays declared (poisoned) and uses of it
/// report nothing more than the syntax error itself.
fn salvaged(chunk: &[Tok<'_>], span: Span) -> Item {
    let file = span.file;
    let at = |s: &SimpleSpan| Span::new(file, s.start, s.end);
    let exported = matches!(chunk.first(), Some((Token::Kw(K::Export), _)));
    let head = chunk.get(usize::from(exported)..).unwrap_or(&[]);
    let body_span = |from: usize| match head.get(from) {
        Some((_, s)) => Span::new(file, s.start, span.end as usize),
        None => Span::new(file, span.end as usize, span.end as usize),
    };
    let kind = match head {
        [(Token::Kw(K::Let), _), (Token::Ident(name), name_span), ..] => ItemKind::Let {
            name: Ident {
                name: name.to_string(),
                span: at(name_span),
            },
            value: Expr {
                kind: ExprKind::Error,
                span: body_span(2),
            },
        },
        [(Token::Ident(kind), kind_span), (Token::Ident(name), name_span), ..] => broken_resource(
            (kind, at(kind_span)),
            (name, at(name_span), true),
            body_span(2),
        ),
        [(Token::Ident(kind), kind_span), (Token::StrStart, open), (Token::Text(name), _), (Token::StrEnd, close), ..] => {
            broken_resource(
                (kind, at(kind_span)),
                (name, Span::new(file, open.start, close.end), false),
                body_span(4),
            )
        }
        _ => ItemKind::Error,
    };
    Item {
        kind,
        exported,
        span,
    }
}

/// Deeper bracket nesting than this is refused (a diagnostic, not a stack overflow).
pub const MAX_NESTING: usize = 200;

/// The span of the first bracket (or interpolation) nested deeper than [`MAX_NESTING`].
fn too_deep(tokens: &[Tok<'_>]) -> Option<SimpleSpan> {
    let mut depth = 0usize;
    for (tok, span) in tokens {
        match tok {
            Token::Punct(P::LParen | P::LBracket | P::LBrace)
            | Token::InterpStart
            | Token::StrStart => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(*span);
                }
            }
            Token::Punct(P::RParen | P::RBracket | P::RBrace)
            | Token::InterpEnd
            | Token::StrEnd => {
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
    }
    None
}

/// Parses a single expression (for `ev eval -e` and the REPL).
pub fn parse_expr(src: &str, file: FileId) -> (Option<Expr>, Vec<SyntaxError>) {
    let lexed = lexer::lex(src, file);
    let mut errors = lexed.errors;
    let tokens: Vec<Tok<'_>> = lexed
        .tokens
        .into_iter()
        .map(|(t, r)| (t, SimpleSpan::from(r)))
        .collect();
    if let Some(deep) = too_deep(&tokens) {
        errors.push(SyntaxError {
            kind: SyntaxErrorKind::Invalid(format!("brackets nested more than {MAX_NESTING} deep")),
            span: Span::new(file, deep.start, deep.end),
        });
        return (None, errors);
    }
    let eoi = SimpleSpan::from(src.len()..src.len());
    let (out, errs) = expr_parser(file)
        .then_ignore(end())
        .parse(tokens.as_slice().split_token_span(eoi))
        .into_output_errors();
    errors.extend(errs.into_iter().map(|e| convert_error(e, file)));
    errors.sort_by_key(|e| (e.span.start, e.span.end));
    (out, errors)
}

/// Cuts the token stream where a new top-level item evidently starts.
fn item_chunks<'a, 's>(src: &str, tokens: &'a [Tok<'s>]) -> Vec<&'a [Tok<'s>]> {
    let at_column_zero =
        |offset: usize| offset == 0 || src.as_bytes().get(offset - 1) == Some(&b'\n');
    let mut starts = vec![0];
    for (i, (tok, span)) in tokens.iter().enumerate().skip(1) {
        if !at_column_zero(span.start) {
            continue;
        }
        let next = tokens.get(i + 1).map(|t| &t.0);
        let starts_item = match tok {
            Token::Kw(K::Let | K::Export | K::Import | K::Schema | K::Kind) => true,
            Token::Ident(_) => matches!(
                next,
                Some(Token::Ident(_) | Token::StrStart | Token::Punct(P::LBrace))
            ),
            _ => false,
        };
        if starts_item {
            starts.push(i);
        }
    }
    let mut chunks = Vec::new();
    for (n, start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(tokens.len());
        if let Some(chunk) = tokens.get(*start..end) {
            if !chunk.is_empty() {
                chunks.push(chunk);
            }
        }
    }
    chunks
}

fn convert_error(err: Rich<'_, Token<'_>, SimpleSpan>, file: FileId) -> SyntaxError {
    let span = Span::new(file, err.span().start, err.span().end);
    let kind = match err.reason() {
        chumsky::error::RichReason::Custom(msg) => SyntaxErrorKind::Invalid(msg.clone()),
        chumsky::error::RichReason::ExpectedFound { expected, found } => {
            let mut expected: Vec<String> = expected
                .iter()
                .map(|pat| match pat {
                    chumsky::error::RichPattern::Token(t) => describe_token(t),
                    chumsky::error::RichPattern::Label(l) => l.to_string(),
                    chumsky::error::RichPattern::Identifier(i) => format!("`{i}`"),
                    chumsky::error::RichPattern::Any => "any token".into(),

                    chumsky::error::RichPattern::EndOfInput => "end of input".into(),
                    _ => "something else".into(),
                })
                .collect();
            expected.sort();
            expected.dedup();
            // A long list of operators that could continue an expression is
            // noise: name them as one.
            let operators = [
                "`!=`",
                "`%`",
                "`&&`",
                "`&`",
                "`*`",
                "`+`",
                "`-`",
                "`.`",
                "`//`",
                "`/`",
                "`<=`",
                "`<`",
                "`==`",
                "`>=`",
                "`>`",
                "`[`",
                "`|>`",
                "`||`",
                "arguments",
                "keyword `or`",
            ];
            let operator_count = expected
                .iter()
                .filter(|e| operators.contains(&e.as_str()))
                .count();
            if operator_count >= 3 {
                expected.retain(|e| !operators.contains(&e.as_str()));
                expected.push("an operator".into());
            }
            let context = err
                .contexts()
                .last()
                .map(|(pat, sp)| (pat.to_string(), Span::new(file, sp.start, sp.end)));
            SyntaxErrorKind::Unexpected {
                expected,
                found: found.as_deref().map(describe_token),
                context,
            }
        }
    };
    SyntaxError { kind, span }
}

fn describe_token(t: &Token<'_>) -> String {
    match t {
        Token::Ident(_) => "identifier".into(),
        Token::Int(_) | Token::Float(_) => "number".into(),
        Token::StrStart => "string".into(),
        Token::Text(_) => "string text".into(),
        other => other.to_string(),
    }
}

fn p<'t, 's: 't>(punct: P) -> impl Parser<'t, In<'t, 's>, Token<'s>, Extra<'t, 's>> + Clone {
    just(Token::Punct(punct))
}

fn kw<'t, 's: 't>(k: K) -> impl Parser<'t, In<'t, 's>, Token<'s>, Extra<'t, 's>> + Clone {
    just(Token::Kw(k))
}

fn ident<'t, 's: 't>(file: FileId) -> impl Parser<'t, In<'t, 's>, Ident, Extra<'t, 's>> + Clone {
    select! { Token::Ident(name) => name }
        .map_with(move |name: &str, e| Ident {
            name: name.to_string(),
            span: span_of(file, e.span()),
        })
        .labelled("identifier")
}

fn span_of(file: FileId, s: SimpleSpan) -> Span {
    Span::new(file, s.start, s.end)
}

/// A string literal without interpolation.
fn plain_string<'t, 's: 't>(
    file: FileId,
) -> impl Parser<'t, In<'t, 's>, StrLit, Extra<'t, 's>> + Clone {
    just(Token::StrStart)
        .ignore_then(
            select! { Token::Text(t) => t.into_owned() }
                .repeated()
                .collect::<Vec<String>>(),
        )
        .then_ignore(just(Token::StrEnd))
        .map_with(move |parts, e| StrLit {
            value: parts.concat(),
            span: span_of(file, e.span()),
        })
        .labelled("string")
}

fn expr_parser<'t, 's: 't>(
    file: FileId,
) -> impl Parser<'t, In<'t, 's>, Expr, Extra<'t, 's>> + Clone {
    recursive(move |expr| {
        let mk = move |kind: ExprKind, s: SimpleSpan| Expr {
            kind,
            span: span_of(file, s),
        };
        let ident = ident(file);

        let string_parts = choice((
            select! { Token::Text(t) => StrPart::Text(t.into_owned()) },
            expr.clone()
                .delimited_by(just(Token::InterpStart), just(Token::InterpEnd))
                .map(StrPart::Interp),
        ))
        .repeated()
        .collect::<Vec<_>>()
        .delimited_by(just(Token::StrStart), just(Token::StrEnd));
        let string = string_parts
            .clone()
            .map_with(move |parts, e| mk(ExprKind::Str(parts), e.span()))
            .labelled("string");

        let literal = select! {
            Token::Int(n) => ExprKind::Int(n),
            Token::Float(n) => ExprKind::Float(n),
            Token::Kw(K::Null) => ExprKind::Null,
            Token::Kw(K::True) => ExprKind::Bool(true),
            Token::Kw(K::False) => ExprKind::Bool(false),
        }
        .map_with(move |k, e| mk(k, e.span()));

        // Record keys: a name, or a string (dynamic when interpolated).
        // Keywords are keys too when `=` or `.` follows (`kind = "Service"`).
        let keyword_key = select! { Token::Kw(k) => k }
            .then_ignore(choice((p(P::Eq), p(P::Dot))).rewind())
            .map_with(move |k: K, e| Key {
                kind: KeyKind::Static(k.as_str().to_string()),
                span: span_of(file, e.span()),
            });
        let key = choice((
            keyword_key,
            ident.clone().map(|id| Key {
                kind: KeyKind::Static(id.name),
                span: id.span,
            }),
            string_parts.clone().map_with(move |parts, e| {
                let span = span_of(file, e.span());
                let kind = if parts.iter().all(|p| matches!(p, StrPart::Text(_))) {
                    KeyKind::Static(
                        parts
                            .into_iter()
                            .map(|p| match p {
                                StrPart::Text(t) => t,
                                StrPart::Interp(_) => String::new(),
                            })
                            .collect(),
                    )
                } else {
                    KeyKind::Dynamic(Box::new(Expr {
                        kind: ExprKind::Str(parts),
                        span,
                    }))
                };
                Key { kind, span }
            }),
        ))
        .labelled("field name");

        let clause = choice((
            kw(K::For)
                .ignore_then(
                    ident
                        .clone()
                        .separated_by(p(P::Comma))
                        .at_least(1)
                        .at_most(2)
                        .collect::<Vec<_>>(),
                )
                .then_ignore(kw(K::In))
                .then(expr.clone())
                .map(|(vars, iter)| Clause::For { vars, iter }),
            kw(K::If).ignore_then(expr.clone()).map(Clause::If),
        ));
        let clauses = clause.repeated().at_least(1).collect::<Vec<_>>();

        // [a, b] or [body for x in xs if c]
        let list = expr
            .clone()
            .then(
                clauses.clone().map(Ok).or(p(P::Comma)
                    .ignore_then(
                        expr.clone()
                            .separated_by(p(P::Comma))
                            .allow_trailing()
                            .collect::<Vec<_>>(),
                    )
                    .or_not()
                    .map(|rest| Err(rest.unwrap_or_default()))),
            )
            .or_not()
            .delimited_by(p(P::LBracket), p(P::RBracket))
            .map_with(move |inner, e| {
                let kind = match inner {
                    None => ExprKind::List(Vec::new()),
                    Some((body, Ok(clauses))) => ExprKind::ListComp {
                        body: Box::new(body),
                        clauses,
                    },
                    Some((first, Err(rest))) => {
                        let mut items = Vec::with_capacity(rest.len() + 1);
                        items.push(first);
                        items.extend(rest);
                        ExprKind::List(items)
                    }
                };
                mk(kind, e.span())
            })
            .labelled("list");

        // Record fields: `a.b = v`, `"k" = v`, or `name` (shorthand for `name = name`).
        let field = key
            .clone()
            .separated_by(p(P::Dot))
            .at_least(1)
            .collect::<Vec<_>>()
            .then(p(P::Eq).ignore_then(expr.clone()).or_not())
            .validate(move |(path, value), e, emitter| {
                let span = span_of(file, e.span());
                match value {
                    Some(value) => Field { path, value, span },
                    None => match path.as_slice() {
                        [Key {
                            kind: KeyKind::Static(name),
                            span: key_span,
                        }] => Field {
                            value: Expr {
                                kind: ExprKind::Var(name.clone()),
                                span: *key_span,
                            },
                            path,
                            span,
                        },
                        _ => {
                            emitter.emit(Rich::custom(
                                e.span(),
                                "expected `=` after a dotted or quoted field name",
                            ));
                            Field {
                                path,
                                value: Expr {
                                    kind: ExprKind::Error,
                                    span,
                                },
                                span,
                            }
                        }
                    },
                }
            })
            .recover_with(skip_then_retry_until(
                none_of([
                    Token::Punct(P::LBrace),
                    Token::Punct(P::LBracket),
                    Token::Punct(P::LParen),
                    Token::Punct(P::RBrace),
                    Token::StrStart,
                    Token::Kw(K::For),
                    Token::Kw(K::If),
                ])
                .ignored(),
                one_of([Token::Punct(P::Comma), Token::Punct(P::RBrace)])
                    .rewind()
                    .ignored(),
            ));
        let record = field
            .separated_by(p(P::Comma).or_not())
            .allow_trailing()
            .collect::<Vec<_>>()
            .then(clauses.clone().or_not())
            .delimited_by(p(P::LBrace), p(P::RBrace))
            .validate(move |(fields, clauses), e, emitter| {
                let span = e.span();
                let result: Result<Expr, Rich<'t, Token<'s>, SimpleSpan>> = match clauses {
                    None => Ok(mk(ExprKind::Record(fields), span)),
                    Some(clauses) => {
                        let mut fields = fields.into_iter();
                        match (fields.next(), fields.next()) {
                            (Some(field), None) if field.path.len() == 1 => {
                                let key = field.path.into_iter().next().map(|k| match k.kind {
                                    KeyKind::Static(name) => Expr {
                                        kind: ExprKind::Str(vec![StrPart::Text(name)]),
                                        span: k.span,
                                    },
                                    KeyKind::Dynamic(expr) => *expr,
                                });
                                match key {
                                    Some(key) => Ok(mk(
                                        ExprKind::RecordComp {
                                            key: Box::new(key),
                                            value: Box::new(field.value),
                                            clauses,
                                        },
                                        span,
                                    )),
                                    None => Err(Rich::custom(
                                        span,
                                        "a record comprehension needs a key",
                                    )),
                                }
                            }
                            _ => Err(Rich::custom(
                                span,
                                "a record comprehension has exactly one `key = value` field",
                            )),
                        }
                    }
                };
                result.unwrap_or_else(|err| {
                    emitter.emit(err);
                    mk(ExprKind::Error, span)
                })
            })
            .labelled("record")
            .as_context();

        let param = ident
            .clone()
            .then(p(P::Eq).ignore_then(expr.clone()).or_not())
            .map(|(name, default)| Param { name, default });
        let lambda = kw(K::Fn)
            .ignore_then(
                param
                    .separated_by(p(P::Comma))
                    .allow_trailing()
                    .collect::<Vec<_>>()
                    .delimited_by(p(P::LParen), p(P::RParen)),
            )
            .then_ignore(p(P::FatArrow))
            .then(expr.clone())
            .map_with(move |(params, body), e| {
                mk(
                    ExprKind::Lambda {
                        params,
                        body: Box::new(body),
                    },
                    e.span(),
                )
            })
            .labelled("function");

        let binding = ident.clone().then_ignore(p(P::Eq)).then(expr.clone());
        let let_in = kw(K::Let)
            .ignore_then(
                binding
                    .separated_by(p(P::Comma))
                    .at_least(1)
                    .collect::<Vec<_>>(),
            )
            .then_ignore(kw(K::In))
            .then(expr.clone())
            .map_with(move |(bindings, body), e| {
                mk(
                    ExprKind::Let {
                        bindings,
                        body: Box::new(body),
                    },
                    e.span(),
                )
            })
            .labelled("let expression");

        let if_else = kw(K::If)
            .ignore_then(expr.clone())
            .then_ignore(kw(K::Then))
            .then(expr.clone())
            .then_ignore(kw(K::Else))
            .then(expr.clone())
            .map_with(move |((cond, then), otherwise), e| {
                mk(
                    ExprKind::If {
                        cond: Box::new(cond),
                        then: Box::new(then),
                        otherwise: Box::new(otherwise),
                    },
                    e.span(),
                )
            })
            .labelled("if expression");

        let var = ident.clone().map(|id| Expr {
            kind: ExprKind::Var(id.name),
            span: id.span,
        });

        let parens = expr
            .clone()
            .delimited_by(p(P::LParen), p(P::RParen))
            .map_with(move |inner: Expr, e| Expr {
                kind: inner.kind,
                span: span_of(file, e.span()),
            });

        let recover_group = |open: P, close: P, others: [(P, P); 2]| {
            via_parser(nested_delimiters(
                Token::Punct(open),
                Token::Punct(close),
                others.map(|(o, c)| (Token::Punct(o), Token::Punct(c))),
                move |s| mk(ExprKind::Error, s),
            ))
        };

        let atom = choice((
            literal,
            string,
            var,
            list.recover_with(recover_group(
                P::LBracket,
                P::RBracket,
                [(P::LParen, P::RParen), (P::LBrace, P::RBrace)],
            )),
            record.recover_with(recover_group(
                P::LBrace,
                P::RBrace,
                [(P::LParen, P::RParen), (P::LBracket, P::RBracket)],
            )),
            parens.recover_with(recover_group(
                P::LParen,
                P::RParen,
                [(P::LBracket, P::RBracket), (P::LBrace, P::RBrace)],
            )),
            lambda,
            let_in,
            if_else,
        ))
        .labelled("expression")
        .boxed();

        let arg = choice((
            ident
                .clone()
                .then_ignore(p(P::Eq))
                .then(expr.clone())
                .map(|(name, value)| Arg {
                    name: Some(name),
                    value,
                }),
            expr.clone().map(|value| Arg { name: None, value }),
        ));
        let call_args = arg
            .separated_by(p(P::Comma))
            .allow_trailing()
            .collect::<Vec<_>>()
            .delimited_by(p(P::LParen), p(P::RParen))
            .labelled("arguments");

        enum Post {
            Call(Vec<Arg>),
            Field(Key),
            Index(Expr),
        }
        let postfix_op = choice((
            call_args.map(Post::Call),
            p(P::Dot)
                .ignore_then(key.clone().or(select! { Token::Kw(k) => k }.map_with(
                    move |k: K, e| Key {
                        kind: KeyKind::Static(k.as_str().to_string()),
                        span: span_of(file, e.span()),
                    },
                )))
                .map(Post::Field),
            expr.clone()
                .delimited_by(p(P::LBracket), p(P::RBracket))
                .map(Post::Index),
        ));

        let bin = move |op: BinaryOp| {
            move |l: Expr,
                  _,
                  r: Expr,
                  e: &mut chumsky::input::MapExtra<'t, '_, In<'t, 's>, Extra<'t, 's>>| {
                mk(ExprKind::Binary(op, Box::new(l), Box::new(r)), e.span())
            }
        };

        atom.pratt((
            postfix(20, postfix_op, move |lhs: Expr, op, e| {
                let kind = match op {
                    Post::Call(args) => ExprKind::Call {
                        func: Box::new(lhs),
                        args,
                    },
                    Post::Field(field) => ExprKind::Select {
                        target: Box::new(lhs),
                        field,
                    },
                    Post::Index(index) => ExprKind::Index {
                        target: Box::new(lhs),
                        index: Box::new(index),
                    },
                };
                mk(kind, e.span())
            }),
            infix(left(18), kw(K::Or), move |l: Expr, _, r: Expr, e| {
                mk(
                    ExprKind::Or {
                        target: Box::new(l),
                        default: Box::new(r),
                    },
                    e.span(),
                )
            }),
            prefix(16, p(P::Minus), move |_, r: Expr, e| {
                mk(ExprKind::Unary(UnaryOp::Neg, Box::new(r)), e.span())
            }),
            prefix(16, p(P::Bang), move |_, r: Expr, e| {
                mk(ExprKind::Unary(UnaryOp::Not, Box::new(r)), e.span())
            }),
            infix(left(14), p(P::Star), bin(BinaryOp::Mul)),
            infix(left(14), p(P::Slash), bin(BinaryOp::Div)),
            infix(left(14), p(P::Percent), bin(BinaryOp::Rem)),
            infix(left(12), p(P::Plus), bin(BinaryOp::Add)),
            infix(left(12), p(P::Minus), bin(BinaryOp::Sub)),
            infix(
                chumsky::pratt::right(10),
                p(P::SlashSlash),
                bin(BinaryOp::Merge),
            ),
            infix(
                chumsky::pratt::right(10),
                p(P::Amp),
                bin(BinaryOp::DeepMerge),
            ),
            infix(left(8), p(P::EqEq), bin(BinaryOp::Eq)),
            infix(left(8), p(P::NotEq), bin(BinaryOp::NotEq)),
            infix(left(8), p(P::Lt), bin(BinaryOp::Lt)),
            infix(left(8), p(P::Le), bin(BinaryOp::Le)),
            infix(left(8), p(P::Gt), bin(BinaryOp::Gt)),
            infix(left(8), p(P::Ge), bin(BinaryOp::Ge)),
            infix(left(6), p(P::AndAnd), bin(BinaryOp::And)),
            infix(left(4), p(P::OrOr), bin(BinaryOp::Or)),
            // `x |> f(a)` is `f(x, a)`; `x |> f` is `f(x)`.
            infix(left(2), p(P::Pipe), move |l: Expr, _, r: Expr, e| {
                let span = e.span();
                match r.kind {
                    ExprKind::Call { func, mut args } => {
                        args.insert(
                            0,
                            Arg {
                                name: None,
                                value: l,
                            },
                        );
                        mk(ExprKind::Call { func, args }, span)
                    }
                    _ => mk(
                        ExprKind::Call {
                            func: Box::new(r),
                            args: vec![Arg {
                                name: None,
                                value: l,
                            }],
                        },
                        span,
                    ),
                }
            }),
        ))
        .boxed()
    })
}

fn type_parser<'t, 's: 't>(
    file: FileId,
) -> impl Parser<'t, In<'t, 's>, TypeExpr, Extra<'t, 's>> + Clone {
    recursive(move |ty| {
        let mk = move |kind: TypeKind, s: SimpleSpan| TypeExpr {
            kind,
            span: span_of(file, s),
        };
        let named = ident(file)
            .then(
                ty.clone()
                    .separated_by(p(P::Comma))
                    .at_least(1)
                    .collect::<Vec<_>>()
                    .delimited_by(p(P::LParen), p(P::RParen))
                    .or_not(),
            )
            .map_with(move |(name, args), e| {
                mk(TypeKind::Named(name, args.unwrap_or_default()), e.span())
            });
        let literal = plain_string(file).map(move |lit| TypeExpr {
            kind: TypeKind::Literal(lit.value),
            span: lit.span,
        });
        let list = ty
            .clone()
            .delimited_by(p(P::LBracket), p(P::RBracket))
            .map_with(move |inner, e| mk(TypeKind::List(Box::new(inner)), e.span()));
        let parens = ty.clone().delimited_by(p(P::LParen), p(P::RParen));
        let atom = choice((named, literal, list, parens)).labelled("type");
        atom.separated_by(p(P::Bar))
            .at_least(1)
            .collect::<Vec<_>>()
            .map_with(move |mut alts, e| {
                if alts.len() == 1 {
                    alts.pop().unwrap_or(TypeExpr {
                        kind: TypeKind::Error,
                        span: span_of(file, e.span()),
                    })
                } else {
                    mk(TypeKind::Union(alts), e.span())
                }
            })
            .boxed()
    })
}

fn items_parser<'t, 's: 't>(file: FileId) -> impl Parser<'t, In<'t, 's>, Vec<Item>, Extra<'t, 's>> {
    let expr = expr_parser(file);
    let ident = ident(file);
    let sp = move |s: SimpleSpan| span_of(file, s);

    let import_name = ident
        .clone()
        .then(kw(K::As).ignore_then(ident.clone()).or_not())
        .map(|(name, alias)| ImportName { name, alias });
    let import = kw(K::Import)
        .ignore_then(choice((
            import_name
                .separated_by(p(P::Comma))
                .allow_trailing()
                .collect::<Vec<_>>()
                .delimited_by(p(P::LBrace), p(P::RBrace))
                .then_ignore(kw(K::From))
                .then(plain_string(file))
                .map(|(names, path)| Import {
                    names,
                    alias: None,
                    path,
                }),
            plain_string(file)
                .then_ignore(kw(K::As))
                .then(ident.clone())
                .map(|(path, alias)| Import {
                    names: Vec::new(),
                    alias: Some(alias),
                    path,
                }),
        )))
        .map(ItemKind::Import)
        .labelled("import");

    let let_item = kw(K::Let)
        .ignore_then(ident.clone())
        .then_ignore(p(P::Eq))
        .then(expr.clone())
        .map(|(name, value)| ItemKind::Let { name, value })
        .labelled("let binding");

    let resource_name = choice((
        ident.clone().map(|id| ResourceName {
            value: id.name,
            span: id.span,
            is_ident: true,
        }),
        plain_string(file).map(|lit| ResourceName {
            value: lit.value,
            span: lit.span,
            is_ident: false,
        }),
    ));
    let resource = ident
        .clone()
        .then(resource_name)
        .then(expr.clone())
        .map(|((kind, name), body)| ItemKind::Resource(Resource { kind, name, body }))
        .labelled("resource declaration");

    let check = expr
        .clone()
        .then(kw(K::Else).ignore_then(expr.clone()).or_not())
        .map_with(move |(cond, message), e| Check {
            cond,
            message,
            span: sp(e.span()),
        });
    let field_name = choice((
        ident.clone(),
        select! { Token::Kw(k) => k }
            .then_ignore(choice((p(P::Colon), p(P::Question))).rewind())
            .map_with(move |k: K, e| Ident {
                name: k.as_str().to_string(),
                span: sp(e.span()),
            }),
        plain_string(file).map(|lit| Ident {
            name: lit.value,
            span: lit.span,
        }),
    ));
    enum Member {
        Field(SchemaField),
        Check(Check),
    }
    let schema_field = field_name
        .then(p(P::Question).or_not().map(|q| q.is_some()))
        .then_ignore(p(P::Colon))
        .then(type_parser(file))
        .then(p(P::Eq).ignore_then(expr.clone()).or_not())
        .then(
            kw(K::Where)
                .ignore_then(check.clone())
                .repeated()
                .collect::<Vec<_>>(),
        )
        .map_with(move |((((name, optional), ty), default), checks), e| {
            Member::Field(SchemaField {
                name,
                optional,
                ty,
                default,
                checks,
                span: sp(e.span()),
            })
        });
    let schema_check = kw(K::Check).ignore_then(check).map(Member::Check);
    let schema = kw(K::Schema)
        .ignore_then(ident.clone())
        .then(
            choice((schema_check, schema_field))
                .separated_by(p(P::Comma).or_not())
                .allow_trailing()
                .collect::<Vec<_>>()
                .delimited_by(p(P::LBrace), p(P::RBrace)),
        )
        .map(|(name, members)| {
            let mut fields = Vec::new();
            let mut checks = Vec::new();
            for m in members {
                match m {
                    Member::Field(f) => fields.push(f),
                    Member::Check(c) => checks.push(c),
                }
            }
            ItemKind::Schema(Schema {
                name,
                fields,
                checks,
            })
        })
        .labelled("schema");

    let kind_item = kw(K::Kind)
        .ignore_then(ident.clone())
        .then_ignore(p(P::Colon))
        .then(type_parser(file))
        .map(|(name, schema)| ItemKind::Kind { name, schema })
        .labelled("kind declaration");

    // `export name = value` is short for `export let name = value`.
    let export_short = kw(K::Export)
        .ignore_then(ident.clone())
        .then_ignore(p(P::Eq))
        .then(expr.clone())
        .map(|(name, value)| (true, ItemKind::Let { name, value }));
    let general = kw(K::Export)
        .or_not()
        .map(|e| e.is_some())
        .then(choice((import, let_item, schema, kind_item, resource)));
    export_short
        .or(general)
        .map_with(move |(exported, kind), e| Item {
            kind,
            exported,
            span: sp(e.span()),
        })
        .labelled("item")
        .repeated()
        .collect::<Vec<_>>()
        .then_ignore(end())
}
