//! Tokens produced by the [lexer](crate::lexer) and consumed by the parser.

use std::borrow::Cow;
use std::fmt;

/// One lexical token. Strings are split into parts so that interpolation
/// (`"a ${b} c"`) needs no re-lexing: `StrStart Text InterpStart ... InterpEnd Text StrEnd`.
#[derive(Clone, Debug, PartialEq)]
pub enum Token<'src> {
    /// An identifier; may contain `-` after its first character (`grand-central`).
    Ident(&'src str),
    /// An integer literal (range-checked by the lexer).
    Int(i64),
    /// A floating point literal.
    Float(f64),
    /// Opening quote of a string (`"` or `"""`).
    StrStart,
    /// Literal text inside a string, with escapes already processed.
    Text(Cow<'src, str>),
    /// `${` inside a string.
    InterpStart,
    /// The `}` closing an interpolation.
    InterpEnd,
    /// Closing quote of a string.
    StrEnd,
    /// A keyword.
    Kw(Keyword),
    /// Punctuation or an operator.
    Punct(Punct),
}

/// Reserved words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Keyword {
    Let,
    In,
    If,
    Then,
    Else,
    Fn,
    Import,
    From,
    As,
    Export,
    For,
    Schema,
    Kind,
    Null,
    True,
    False,
    Or,
    Check,
    Where,
}

impl Keyword {
    /// The keyword for an identifier-shaped word, if it is one.
    pub fn from_word(word: &str) -> Option<Keyword> {
        Some(match word {
            "let" => Keyword::Let,
            "in" => Keyword::In,
            "if" => Keyword::If,
            "then" => Keyword::Then,
            "else" => Keyword::Else,
            "fn" => Keyword::Fn,
            "import" => Keyword::Import,
            "from" => Keyword::From,
            "as" => Keyword::As,
            "export" => Keyword::Export,
            "for" => Keyword::For,
            "schema" => Keyword::Schema,
            "kind" => Keyword::Kind,
            "null" => Keyword::Null,
            "true" => Keyword::True,
            "false" => Keyword::False,
            "or" => Keyword::Or,
            "check" => Keyword::Check,
            "where" => Keyword::Where,
            _ => return None,
        })
    }

    /// The keyword as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Keyword::Let => "let",
            Keyword::In => "in",
            Keyword::If => "if",
            Keyword::Then => "then",
            Keyword::Else => "else",
            Keyword::Fn => "fn",
            Keyword::Import => "import",
            Keyword::From => "from",
            Keyword::As => "as",
            Keyword::Export => "export",
            Keyword::For => "for",
            Keyword::Schema => "schema",
            Keyword::Kind => "kind",
            Keyword::Null => "null",
            Keyword::True => "true",
            Keyword::False => "false",
            Keyword::Or => "or",
            Keyword::Check => "check",
            Keyword::Where => "where",
        }
    }
}

/// Punctuation and operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Punct {
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    Dot,
    Colon,
    Eq,
    EqEq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    AndAnd,
    OrOr,
    Bang,
    Pipe,
    FatArrow,
    SlashSlash,
    Amp,
    Bar,
    Question,
}

impl Punct {
    /// The punctuation as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Punct::LParen => "(",
            Punct::RParen => ")",
            Punct::LBracket => "[",
            Punct::RBracket => "]",
            Punct::LBrace => "{",
            Punct::RBrace => "}",
            Punct::Comma => ",",
            Punct::Dot => ".",
            Punct::Colon => ":",
            Punct::Eq => "=",
            Punct::EqEq => "==",
            Punct::NotEq => "!=",
            Punct::Lt => "<",
            Punct::Le => "<=",
            Punct::Gt => ">",
            Punct::Ge => ">=",
            Punct::Plus => "+",
            Punct::Minus => "-",
            Punct::Star => "*",
            Punct::Slash => "/",
            Punct::Percent => "%",
            Punct::AndAnd => "&&",
            Punct::OrOr => "||",
            Punct::Bang => "!",
            Punct::Pipe => "|>",
            Punct::FatArrow => "=>",
            Punct::SlashSlash => "//",
            Punct::Amp => "&",
            Punct::Bar => "|",
            Punct::Question => "?",
        }
    }
}

impl fmt::Display for Token<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Ident(name) => write!(f, "identifier `{name}`"),
            Token::Int(n) => write!(f, "integer `{n}`"),
            Token::Float(n) => write!(f, "number `{n}`"),
            Token::StrStart => write!(f, "string"),
            Token::Text(_) => write!(f, "string text"),
            Token::InterpStart => write!(f, "`${{`"),
            Token::InterpEnd => write!(f, "`}}`"),
            Token::StrEnd => write!(f, "end of string"),
            Token::Kw(k) => write!(f, "keyword `{}`", k.as_str()),
            Token::Punct(p) => write!(f, "`{}`", p.as_str()),
        }
    }
}
