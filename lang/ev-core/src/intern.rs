//! Interned names: record keys and variable names are `Sym`s, so lookups
//! compare integers instead of strings. The interner is `lasso`'s
//! thread-safe one, shared by the whole process.

use std::fmt;
use std::sync::OnceLock;

use lasso::{Spur, ThreadedRodeo};

/// An interned string. Two `Sym`s are equal exactly when their strings are.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sym(Spur);

fn interner() -> &'static ThreadedRodeo {
    static INTERNER: OnceLock<ThreadedRodeo> = OnceLock::new();
    INTERNER.get_or_init(ThreadedRodeo::new)
}

impl Sym {
    /// Interns `name`. Interned strings live for the whole process, which is
    /// bounded by the distinct names and keys a program uses.
    pub fn new(name: &str) -> Sym {
        Sym(interner().get_or_intern(name))
    }

    /// The interned string.
    pub fn as_str(self) -> &'static str {
        interner().resolve(&self.0)
    }
}

impl fmt::Debug for Sym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for Sym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
