//! Interned names: record keys and variable names are `Sym`s, so lookups
//! compare integers instead of strings.

use std::collections::HashMap;
use std::fmt;
use std::sync::{OnceLock, RwLock};

/// An interned string. Two `Sym`s are equal exactly when their strings are.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sym(u32);

#[derive(Default)]
struct Interner {
    map: HashMap<&'static str, Sym>,
    names: Vec<&'static str>,
}

fn interner() -> &'static RwLock<Interner> {
    static INTERNER: OnceLock<RwLock<Interner>> = OnceLock::new();
    INTERNER.get_or_init(|| RwLock::new(Interner::default()))
}

impl Sym {
    /// Interns `name`. Interned strings live for the whole process, which is
    /// bounded by the distinct names and keys a program uses.
    pub fn new(name: &str) -> Sym {
        if let Ok(guard) = interner().read() {
            if let Some(sym) = guard.map.get(name) {
                return *sym;
            }
        }
        let mut guard = match interner().write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(sym) = guard.map.get(name) {
            return *sym;
        }
        let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
        let sym = Sym(u32::try_from(guard.names.len()).unwrap_or(u32::MAX));
        guard.names.push(leaked);
        guard.map.insert(leaked, sym);
        sym
    }

    /// The interned string.
    pub fn as_str(self) -> &'static str {
        let guard = match interner().read() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        guard.names.get(self.0 as usize).copied().unwrap_or("")
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
