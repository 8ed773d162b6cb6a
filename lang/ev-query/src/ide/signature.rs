//! Signature help: inside a call's parentheses, the function's parameters
//! (with defaults), its documentation and the parameter being written.

use ev_syntax::lexer::lex;
use ev_syntax::token::{Punct, Token};
use ev_syntax::FileId;

use super::{eval_text, World};
use ev_core::program::Binding;
use ev_core::value::{Func, Value};

/// A function's signature at the cursor.
#[derive(Clone, Debug, PartialEq)]
pub struct SignatureHelp {
    /// `name(a, b = 1)`.
    pub label: String,
    /// Each parameter's text as it appears in `label`.
    pub parameters: Vec<String>,
    /// The parameter the cursor is in (by position, or by `name =`).
    pub active: usize,
    /// Markdown documentation.
    pub documentation: Option<String>,
}

impl World {
    /// The signature of the call whose argument list holds `offset`.
    pub fn signature_help(&mut self, path: &str, offset: u32) -> Option<SignatureHelp> {
        let module = self.module_of(path)?;
        let src = self.text(path)?;
        let (callee, argument, named) = call_at(&src, offset as usize)?;
        let (program, fs) = self.parts();
        let program = program?;
        let (value, _) = eval_text(program, &fs, module, &callee)?;
        let Value::Func(func) = value else {
            return None;
        };
        let (parameters, documentation) = match &*func {
            Func::Builtin(b) => (
                b.params().iter().map(|p| p.to_string()).collect::<Vec<_>>(),
                Some(b.doc().to_string()),
            ),
            Func::Closure { def, .. } => {
                let text = program
                    .sources
                    .get(def.span.file)
                    .and_then(|f| f.text.get(def.span.range()))
                    .unwrap_or("");
                let doc = match program
                    .module(module)
                    .and_then(|m| m.scope.get(&ev_core::intern::Sym::new(&callee)))
                    .map(|(b, _)| *b)
                    .or_else(|| {
                        program
                            .prelude
                            .get(&ev_core::intern::Sym::new(&callee))
                            .copied()
                    }) {
                    Some(Binding::Global(g)) => program.global(g).and_then(|d| d.doc.clone()),
                    _ => None,
                };
                (lambda_parameters(text, def.params.len()), doc)
            }
        };
        let active = match &named {
            Some(name) => parameters
                .iter()
                .position(|p| p.split([' ', '=']).next() == Some(name.as_str()))
                .unwrap_or(argument),
            None => argument,
        };
        Some(SignatureHelp {
            label: format!("{callee}({})", parameters.join(", ")),
            parameters,
            active,
            documentation,
        })
    }
}

/// The call around `offset`: the callee's text (`name` or `a.b`), the
/// index of the argument holding the cursor, and its name when it is a
/// named argument (`ttl = |`).
fn call_at(src: &str, offset: usize) -> Option<(String, usize, Option<String>)> {
    let lexed = lex(src, FileId(0));
    let tokens: Vec<&(Token<'_>, std::ops::Range<usize>)> = lexed
        .tokens
        .iter()
        .filter(|(_, r)| r.end <= offset)
        .collect();
    // The innermost unclosed `(` that follows a name.
    let mut depth = 0usize;
    let mut argument = 0usize;
    // Walking back, tokens before the first comma are the argument being
    // written: a `name =` there names it.
    let mut in_current = true;
    let mut named: Option<String> = None;
    let mut i = tokens.len();
    while i > 0 {
        i -= 1;
        let (t, _) = tokens.get(i)?;
        match t {
            Token::Punct(Punct::RParen | Punct::RBracket | Punct::RBrace) | Token::InterpEnd => {
                depth += 1
            }
            Token::Punct(Punct::LBracket | Punct::LBrace) | Token::InterpStart if depth == 0 => {
                return None
            }
            Token::Punct(Punct::LBracket | Punct::LBrace) | Token::InterpStart => depth -= 1,
            Token::Punct(Punct::LParen) if depth > 0 => depth -= 1,
            Token::Punct(Punct::LParen) => {
                let callee = callee_before(&tokens, i)?;
                return Some((callee, argument, named));
            }
            Token::Punct(Punct::Comma) if depth == 0 => {
                argument += 1;
                in_current = false;
            }
            Token::Punct(Punct::Eq) if depth == 0 && in_current && named.is_none() => {
                if let Some((Token::Ident(n), _)) =
                    i.checked_sub(1).and_then(|j| tokens.get(j)).map(|t| &**t)
                {
                    named = Some(n.to_string());
                }
            }
            _ => {}
        }
    }
    None
}

/// `a.b.c` written right before token `open`.
fn callee_before(tokens: &[&(Token<'_>, std::ops::Range<usize>)], open: usize) -> Option<String> {
    let mut parts = Vec::new();
    let mut i = open;
    loop {
        i = i.checked_sub(1)?;
        match tokens.get(i).map(|(t, _)| t)? {
            Token::Ident(name) => parts.push(name.to_string()),
            _ => return None,
        }
        match i.checked_sub(1).and_then(|j| tokens.get(j)).map(|(t, _)| t) {
            Some(Token::Punct(Punct::Dot)) => i -= 1,
            _ => break,
        }
    }
    parts.reverse();
    Some(parts.join("."))
}

/// The parameters of a lambda's source text `fn(a, b = 1) => ...`, split at
/// the top-level commas of its parameter list.
fn lambda_parameters(text: &str, count: usize) -> Vec<String> {
    let Some(open) = text.find('(') else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut current = String::new();
    for c in text[open + 1..].chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' if depth == 0 => break,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(current.trim().to_string());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out.truncate(count);
    out
}
