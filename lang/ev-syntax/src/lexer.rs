//! The lexer: turns source text into spanned [`Token`]s, keeping comments aside.
//!
//! Written by hand rather than with chumsky because strings with `${...}`
//! interpolation need a mode stack; the lexer never stops at an error: it
//! records it, skips the offending input and goes on.

use std::borrow::Cow;

use crate::error::{SyntaxError, SyntaxErrorKind};
use crate::source::FileId;
use crate::span::Span;
use crate::token::{Keyword, Punct, Token};

/// A token with its byte range in the file.
pub type Spanned<'src> = (Token<'src>, std::ops::Range<usize>);

/// A `#` comment, kept for doc lookup and the formatter.
#[derive(Clone, Debug, PartialEq)]
pub struct Comment {
    /// The comment's span, including the `#`.
    pub span: Span,
    /// The text after `#` (or `##`), not trimmed.
    pub text: String,
    /// `##` doc comments document the item that follows them.
    pub doc: bool,
}

/// Everything the lexer produces for one file.
#[derive(Debug, Default)]
pub struct Lexed<'src> {
    /// The tokens in order.
    pub tokens: Vec<Spanned<'src>>,
    /// Comments in order.
    pub comments: Vec<Comment>,
    /// Lexical errors.
    pub errors: Vec<SyntaxError>,
}

enum Mode {
    /// Ordinary code; the count is the `{` nesting inside an interpolation.
    Code { braces: u32 },
    /// Inside a string literal; `first_token` indexes its `StrStart`.
    Str {
        multiline: bool,
        start: usize,
        first_token: usize,
    },
}

struct Lexer<'src> {
    src: &'src str,
    pos: usize,
    file: FileId,
    out: Lexed<'src>,
    modes: Vec<Mode>,
}

/// Lexes a whole file. Never fails; errors are in [`Lexed::errors`].
pub fn lex(src: &str, file: FileId) -> Lexed<'_> {
    let mut lx = Lexer {
        src,
        // A UTF-8 byte order mark (editors on Windows write one) is not
        // part of the program; spans still count it, so they stay byte
        // offsets into the file.
        pos: if src.starts_with('\u{feff}') { 3 } else { 0 },
        file,
        out: Lexed::default(),
        modes: vec![Mode::Code { braces: 0 }],
    };
    lx.run();
    lx.out
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_continue(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

impl<'src> Lexer<'src> {
    fn peek(&self) -> Option<char> {
        self.src.get(self.pos..).and_then(|s| s.chars().next())
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.src.get(self.pos..).and_then(|s| s.chars().nth(n))
    }

    fn rest(&self) -> &'src str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn error(&mut self, kind: SyntaxErrorKind, start: usize, end: usize) {
        self.out.errors.push(SyntaxError {
            kind,
            span: Span::new(self.file, start, end),
        });
    }

    fn push(&mut self, token: Token<'src>, start: usize) {
        self.out.tokens.push((token, start..self.pos));
    }

    fn run(&mut self) {
        loop {
            match self.modes.last() {
                Some(Mode::Str {
                    multiline,
                    start,
                    first_token,
                }) => {
                    let (multiline, start, first) = (*multiline, *start, *first_token);
                    self.lex_string_body(multiline, start);
                    if multiline && !matches!(self.modes.last(), Some(Mode::Str { .. })) {
                        if let Some((Token::StrEnd, _)) = self.out.tokens.last() {
                            self.dedent_string(first);
                        }
                    }
                }
                Some(Mode::Code { .. }) => {
                    if !self.lex_code_token() {
                        break;
                    }
                }
                None => break,
            }
        }
        // Unwind modes left open at the end of the input.
        while let Some(mode) = self.modes.pop() {
            if let Mode::Str { start, .. } = mode {
                let end = self.src.len();
                self.error(SyntaxErrorKind::UnterminatedString, start, end);
            }
        }
    }

    /// Lexes one token in code mode; returns false at the end of the input.
    fn lex_code_token(&mut self) -> bool {
        // Skip whitespace and comments.
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() => self.pos += c.len_utf8(),
                Some('#') => {
                    let start = self.pos;
                    let line_end = self
                        .rest()
                        .find('\n')
                        .map(|i| self.pos + i)
                        .unwrap_or(self.src.len());
                    let raw = self.src.get(start..line_end).unwrap_or("");
                    let doc = raw.starts_with("##");
                    let text = raw.get(if doc { 2 } else { 1 }..).unwrap_or("").to_string();
                    self.out.comments.push(Comment {
                        span: Span::new(self.file, start, line_end),
                        text,
                        doc,
                    });
                    self.pos = line_end;
                }
                _ => break,
            }
        }
        let start = self.pos;
        let Some(c) = self.peek() else {
            return false;
        };
        if is_ident_start(c) {
            let len = self
                .rest()
                .find(|c: char| !is_ident_continue(c))
                .unwrap_or(self.rest().len());
            // A trailing `-` belongs to the next token (`a- b` is not a name).
            let word = self.rest().get(..len).unwrap_or("").trim_end_matches('-');
            self.pos += word.len();
            let token = match Keyword::from_word(word) {
                Some(kw) => Token::Kw(kw),
                None => Token::Ident(word),
            };
            self.push(token, start);
            return true;
        }
        if c.is_ascii_digit() {
            self.lex_number(start);
            return true;
        }
        if c == '\'' {
            // A single-quoted string: report it, but lex it as a string so
            // the rest of the line does not cascade into more errors.
            let line_end = self.rest().find('\n').unwrap_or(self.rest().len());
            let body_len = self
                .rest()
                .get(1..line_end)
                .and_then(|r| r.find('\''))
                .map(|i| i + 2);
            if let Some(len) = body_len {
                let text = self.rest().get(1..len - 1).unwrap_or("");
                self.error(SyntaxErrorKind::InvalidCharacter('\''), start, start + len);
                self.push(Token::StrStart, start);
                self.pos += len;
                if !text.is_empty() {
                    self.out
                        .tokens
                        .push((Token::Text(Cow::Borrowed(text)), start + 1..start + len - 1));
                }
                self.out
                    .tokens
                    .push((Token::StrEnd, start + len - 1..start + len));
                return true;
            }
        }
        if c == '"' {
            let multiline = self.rest().starts_with("\"\"\"");
            self.pos += if multiline { 3 } else { 1 };
            let first_token = self.out.tokens.len();
            self.push(Token::StrStart, start);
            self.modes.push(Mode::Str {
                multiline,
                start,
                first_token,
            });
            return true;
        }
        let two = self.rest().get(..2).unwrap_or("");
        let punct2 = match two {
            "==" => Some(Punct::EqEq),
            "!=" => Some(Punct::NotEq),
            "<=" => Some(Punct::Le),
            ">=" => Some(Punct::Ge),
            "&&" => Some(Punct::AndAnd),
            "||" => Some(Punct::OrOr),
            "|>" => Some(Punct::Pipe),
            "=>" => Some(Punct::FatArrow),
            "//" => Some(Punct::SlashSlash),
            _ => None,
        };
        if let Some(p) = punct2 {
            self.pos += 2;
            self.push(Token::Punct(p), start);
            return true;
        }
        let punct = match c {
            '(' => Some(Punct::LParen),
            ')' => Some(Punct::RParen),
            '[' => Some(Punct::LBracket),
            ']' => Some(Punct::RBracket),
            '{' => Some(Punct::LBrace),
            '}' => Some(Punct::RBrace),
            ',' => Some(Punct::Comma),
            '.' => Some(Punct::Dot),
            ':' => Some(Punct::Colon),
            '=' => Some(Punct::Eq),
            '<' => Some(Punct::Lt),
            '>' => Some(Punct::Gt),
            '+' => Some(Punct::Plus),
            '-' => Some(Punct::Minus),
            '*' => Some(Punct::Star),
            '/' => Some(Punct::Slash),
            '%' => Some(Punct::Percent),
            '!' => Some(Punct::Bang),
            '&' => Some(Punct::Amp),
            '|' => Some(Punct::Bar),
            '?' => Some(Punct::Question),
            _ => None,
        };
        self.pos += c.len_utf8();
        match punct {
            Some(Punct::LBrace) => {
                if let Some(Mode::Code { braces }) = self.modes.last_mut() {
                    *braces += 1;
                }
                self.push(Token::Punct(Punct::LBrace), start);
            }
            Some(Punct::RBrace) => {
                let in_interp = self.modes.len() > 1;
                match self.modes.last_mut() {
                    Some(Mode::Code { braces }) if *braces == 0 && in_interp => {
                        self.modes.pop();
                        self.push(Token::InterpEnd, start);
                    }
                    Some(Mode::Code { braces }) => {
                        *braces = braces.saturating_sub(1);
                        self.push(Token::Punct(Punct::RBrace), start);
                    }
                    _ => self.push(Token::Punct(Punct::RBrace), start),
                }
            }
            Some(p) => self.push(Token::Punct(p), start),
            None => {
                let end = self.pos;
                self.error(SyntaxErrorKind::InvalidCharacter(c), start, end);
            }
        }
        true
    }

    fn lex_number(&mut self, start: usize) {
        let digits = |s: &str| {
            s.find(|c: char| !(c.is_ascii_digit() || c == '_'))
                .unwrap_or(s.len())
        };
        let int_len = digits(self.rest());
        self.pos += int_len;
        let mut is_float = false;
        if self.peek() == Some('.') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
            self.pos += digits(self.rest());
            is_float = true;
        }
        let text: String = self
            .src
            .get(start..self.pos)
            .unwrap_or("")
            .chars()
            .filter(|c| *c != '_')
            .collect();
        if is_float {
            let value = text.parse::<f64>().unwrap_or(0.0);
            if value.is_finite() {
                self.push(Token::Float(value), start);
            } else {
                // ev has no infinite numbers (no data format holds one).
                let end = self.pos;
                self.error(SyntaxErrorKind::FloatTooLarge(text), start, end);
                self.push(Token::Float(0.0), start);
            }
        } else {
            match text.parse::<i64>() {
                Ok(n) => self.push(Token::Int(n), start),
                Err(_) => {
                    let end = self.pos;
                    self.error(SyntaxErrorKind::IntegerTooLarge(text), start, end);
                    self.push(Token::Int(0), start);
                }
            }
        }
    }

    /// Lexes string text up to the next interpolation or the closing quote.
    fn lex_string_body(&mut self, multiline: bool, str_start: usize) {
        let text_start = self.pos;
        let mut text = String::new();
        let mut borrowed = true;
        loop {
            let rest = self.rest();
            let Some(c) = rest.chars().next() else {
                // End of input inside a string: report and close it.
                self.flush_text(&mut text, borrowed, text_start);
                self.error(
                    SyntaxErrorKind::UnterminatedString,
                    str_start,
                    self.src.len(),
                );
                self.modes.pop();
                self.push(Token::StrEnd, self.src.len());
                return;
            };
            if (!multiline && c == '"') || (multiline && rest.starts_with("\"\"\"")) {
                self.flush_text(&mut text, borrowed, text_start);
                let start = self.pos;
                self.pos += if multiline { 3 } else { 1 };
                self.modes.pop();
                self.push(Token::StrEnd, start);
                return;
            }
            if !multiline && c == '\n' {
                // A plain string cannot span lines: close it here so the rest of
                // the file still lexes sensibly.
                self.flush_text(&mut text, borrowed, text_start);
                let pos = self.pos;
                self.error(SyntaxErrorKind::UnterminatedString, str_start, pos);
                self.modes.pop();
                self.push(Token::StrEnd, pos);
                return;
            }
            if rest.starts_with("${") {
                self.flush_text(&mut text, borrowed, text_start);
                let start = self.pos;
                self.pos += 2;
                self.push(Token::InterpStart, start);
                self.modes.push(Mode::Code { braces: 0 });
                return;
            }
            if c == '\\' {
                if borrowed {
                    text.push_str(self.src.get(text_start..self.pos).unwrap_or(""));
                    borrowed = false;
                }
                let esc_start = self.pos;
                self.pos += 1;
                let Some(e) = self.peek() else { continue };
                self.pos += e.len_utf8();
                match e {
                    'n' => text.push('\n'),
                    't' => text.push('\t'),
                    'r' => text.push('\r'),
                    '0' => text.push('\0'),
                    '\\' => text.push('\\'),
                    '"' => text.push('"'),
                    '$' => text.push('$'),
                    '\n' if multiline => {} // line continuation
                    '\r' if multiline && self.peek() == Some('\n') => self.pos += 1,
                    'u' => match self.lex_unicode_escape() {
                        Some(ch) => text.push(ch),
                        None => {
                            let end = self.pos;
                            let raw = self.src.get(esc_start..end).unwrap_or("").to_string();
                            self.error(SyntaxErrorKind::InvalidEscape(raw), esc_start, end);
                        }
                    },
                    other => {
                        let end = self.pos;
                        self.error(
                            SyntaxErrorKind::InvalidEscape(format!("\\{other}")),
                            esc_start,
                            end,
                        );
                    }
                }
                continue;
            }
            if multiline && rest.starts_with("\r\n") {
                // A file saved with CRLF line ends means the same text as
                // one with LF: the string holds `\n` either way.
                if borrowed {
                    text.push_str(self.src.get(text_start..self.pos).unwrap_or(""));
                    borrowed = false;
                }
                self.pos += 1;
                continue;
            }
            if !borrowed {
                text.push(c);
            }
            self.pos += c.len_utf8();
        }
    }

    /// Parses the `{XXXX}` after `\u`.
    fn lex_unicode_escape(&mut self) -> Option<char> {
        let rest = self.rest();
        if !rest.starts_with('{') {
            return None;
        }
        let close = rest.find('}')?;
        let hex = rest.get(1..close)?;
        if hex.is_empty() || hex.len() > 6 {
            return None;
        }
        self.pos += close + 1;
        u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
    }

    /// Dedents the multi-line string whose `StrStart` is at `first`.
    fn dedent_string(&mut self, first: usize) {
        let mut depth = 0u32;
        let mut slots: Vec<Option<usize>> = Vec::new();
        let tokens = self.out.tokens.get(first + 1..).unwrap_or(&[]);
        for (offset, (tok, _)) in tokens.iter().enumerate() {
            match tok {
                Token::InterpStart => {
                    if depth == 0 {
                        slots.push(None);
                    }
                    depth += 1;
                }
                Token::InterpEnd => depth = depth.saturating_sub(1),
                Token::Text(_) if depth == 0 => slots.push(Some(first + 1 + offset)),
                _ => {}
            }
        }
        let mut parts: Vec<Option<String>> = slots
            .iter()
            .map(|slot| {
                slot.and_then(|i| match self.out.tokens.get(i) {
                    Some((Token::Text(t), _)) => Some(t.to_string()),
                    _ => None,
                })
            })
            .collect();
        dedent_parts(&mut parts);
        for (slot, part) in slots.iter().zip(parts) {
            if let (Some(i), Some(text)) = (slot, part) {
                if let Some((tok, _)) = self.out.tokens.get_mut(*i) {
                    *tok = Token::Text(Cow::Owned(text));
                }
            }
        }
    }

    fn flush_text(&mut self, text: &mut String, borrowed: bool, text_start: usize) {
        let value: Cow<'src, str> = if borrowed {
            Cow::Borrowed(self.src.get(text_start..self.pos).unwrap_or(""))
        } else {
            Cow::Owned(std::mem::take(text))
        };
        if !value.is_empty() {
            self.out
                .tokens
                .push((Token::Text(value), text_start..self.pos));
        }
    }
}

/// Removes the common indentation of a multi-line string's lines, and the
/// first line break right after the opening `"""` (and the last line if it
/// holds only whitespace before the closing `"""`).
///
/// `parts` are the literal text parts of one string; `None` stands for an
/// interpolation (which never starts a line).
pub fn dedent_parts(parts: &mut [Option<String>]) {
    // Find the minimal indentation over all lines that start in literal text
    // and are not blank.
    let mut min_indent: Option<usize> = None;
    // Text on the line of the opening quotes does not count as a line start.
    let mut at_line_start = false;
    for part in parts.iter() {
        let Some(text) = part else {
            if at_line_start {
                min_indent = Some(0);
            }
            at_line_start = false;
            continue;
        };
        for (i, line) in text.split('\n').enumerate() {
            let starts_line = i > 0 || at_line_start;
            if starts_line && !line.trim().is_empty() {
                let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
                min_indent = Some(min_indent.map_or(indent, |m| m.min(indent)));
            }
        }
        at_line_start = text.ends_with('\n');
    }
    let indent = min_indent.unwrap_or(0);
    let mut at_line_start = false;
    for part in parts.iter_mut() {
        let Some(text) = part else {
            at_line_start = false;
            continue;
        };
        let mut out = String::with_capacity(text.len());
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                out.push('\n');
            }
            if i > 0 || at_line_start {
                let strip = line
                    .char_indices()
                    .take_while(|(j, c)| *j < indent && (*c == ' ' || *c == '\t'))
                    .count();
                out.push_str(line.get(strip..).unwrap_or(""));
            } else {
                out.push_str(line);
            }
        }
        at_line_start = text.ends_with('\n');
        *text = out;
    }
    // Drop the line break after the opening quotes and the blank last line.
    if let Some(Some(first)) = parts.first_mut() {
        if let Some(stripped) = first.strip_prefix('\n') {
            *first = stripped.to_string();
        } else if let Some(stripped) = first.strip_prefix("\r\n") {
            *first = stripped.to_string();
        }
    }
    if let Some(Some(last)) = parts.last_mut() {
        if let Some(idx) = last.rfind('\n') {
            if last.get(idx + 1..).is_some_and(|t| t.trim().is_empty()) {
                last.truncate(idx + 1);
            }
        }
    }
}
