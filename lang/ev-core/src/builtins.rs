//! Builtin functions. Each has a name, named parameters (so builtins accept
//! named arguments like user functions) and an implementation here.
//!
//! Evaluation is hermetic: builtins read only files inside the repository
//! (through the core's [`FileSystem`](crate::fs::FileSystem)), never the
//! environment or the network.

use std::collections::HashSet;
use std::net::IpAddr;
use std::rc::Rc;

use ev_syntax::Span;

use crate::error::{EvalError, EvalErrorKind};
use crate::eval::{format_float, wrong_type, EvalResult, Evaluator, Size};
use crate::fs::{normalize, PathError, ReadFailure};
use crate::intern::Sym;
use crate::value::*;

macro_rules! builtins {
    ($( $variant:ident => $name:literal ($($param:literal),*) / $required:literal, $doc:literal; )*) => {
        /// A builtin function.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Builtin {
            $( #[doc = $doc] $variant, )*
        }

        impl Builtin {
            /// Every builtin.
            pub const ALL: &'static [Builtin] = &[ $( Builtin::$variant, )* ];

            /// Its name in ev.
            pub fn name(self) -> &'static str {
                match self { $( Builtin::$variant => $name, )* }
            }

            /// Its parameter names.
            pub fn params(self) -> &'static [&'static str] {
                match self { $( Builtin::$variant => &[$($param),*], )* }
            }

            /// How many leading parameters are required.
            pub fn required(self) -> usize {
                match self { $( Builtin::$variant => $required, )* }
            }

            /// Its one-line documentation.
            pub fn doc(self) -> &'static str {
                match self { $( Builtin::$variant => $doc, )* }
            }

            /// The builtin with this name.
            pub fn from_name(name: &str) -> Option<Builtin> {
                match name { $( $name => Some(Builtin::$variant), )* _ => None }
            }
        }
    };
}

builtins! {
    Split => "split" ("s", "sep") / 2, "split(s, sep): the parts of `s` between occurrences of `sep`.";
    Join => "join" ("xs", "sep") / 2, "join(xs, sep): the strings of `xs` joined with `sep`.";
    Trim => "trim" ("s") / 1, "trim(s): `s` without leading and trailing whitespace.";
    Replace => "replace" ("s", "from", "to") / 3, "replace(s, from, to): `s` with every `from` replaced by `to`.";
    Lower => "lower" ("s") / 1, "lower(s): `s` in lower case.";
    Upper => "upper" ("s") / 1, "upper(s): `s` in upper case.";
    StartsWith => "starts_with" ("s", "prefix") / 2, "starts_with(s, prefix): whether `s` begins with `prefix`.";
    EndsWith => "ends_with" ("s", "suffix") / 2, "ends_with(s, suffix): whether `s` ends with `suffix`.";
    Contains => "contains" ("haystack", "needle") / 2, "contains(haystack, needle): substring test for strings, membership for lists.";
    Format => "format" ("template", "args") / 1, "format(template, ...args): `template` with each `{}` replaced by the next argument.";
    SecretFormat => "secret_format" ("template", "args") / 1, "secret_format(template, ...args): a secret made of `template` with each `{}` replaced by the next argument, secrets included (a connection string); its text exists only at apply time.";
    ToString => "to_string" ("value") / 1, "to_string(value): a string, number, Bool or null as text.";
    ToInt => "to_int" ("value") / 1, "to_int(value): a decimal string (or float, truncated) as an Int.";
    Map => "map" ("xs", "f") / 2, "map(xs, f): `f` applied to each element.";
    Filter => "filter" ("xs", "pred") / 2, "filter(xs, pred): the elements for which `pred` is true.";
    FlatMap => "flat_map" ("xs", "f") / 2, "flat_map(xs, f): the lists returned by `f`, concatenated.";
    Len => "len" ("value") / 1, "len(value): length of a list, string (in characters) or record.";
    Sort => "sort" ("xs") / 1, "sort(xs): numbers or strings in ascending order.";
    SortBy => "sort_by" ("xs", "key") / 2, "sort_by(xs, key): `xs` ordered by `key(x)` (stable).";
    Unique => "unique" ("xs") / 1, "unique(xs): `xs` without repeats, first occurrences kept.";
    Any => "any" ("xs", "pred") / 2, "any(xs, pred): whether `pred` holds for some element.";
    All => "all" ("xs", "pred") / 2, "all(xs, pred): whether `pred` holds for every element.";
    Range => "range" ("start", "end") / 1, "range(n) is 0..n-1; range(a, b) is a..b-1.";
    Zip => "zip" ("xs", "ys") / 2, "zip(xs, ys): pairs `[x, y]` up to the shorter length.";
    GroupBy => "group_by" ("xs", "key") / 2, "group_by(xs, key): a record from each `key(x)` to the elements with that key.";
    Fold => "fold" ("xs", "init", "f") / 3, "fold(xs, init, f): `f(...f(f(init, x0), x1)..., xn)`.";
    Reverse => "reverse" ("xs") / 1, "reverse(xs): `xs` back to front.";
    Flatten => "flatten" ("xss") / 1, "flatten(xss): a list of lists concatenated.";
    Keys => "keys" ("record") / 1, "keys(record): field names in order.";
    Values => "values" ("record") / 1, "values(record): field values in order.";
    Has => "has" ("record", "key") / 2, "has(record, key): whether the field exists.";
    Get => "get" ("record", "key", "default") / 2, "get(record, key, default): a field, or `default` (an error without one) when absent.";
    MapValues => "map_values" ("record", "f") / 2, "map_values(record, f): the record with `f(key, value)` as each value.";
    Merge => "merge" ("records") / 1, "merge(a, b, ...): shallow merge, later records win (`a // b`).";
    Remove => "remove" ("record", "keys") / 2, "remove(record, key, ...): the record without these fields.";
    ToEntries => "to_entries" ("record") / 1, "to_entries(record): `[{ key, value }]` in order.";
    FromEntries => "from_entries" ("entries") / 1, "from_entries(entries): a record from `[{ key, value }]`.";
    Json => "json" ("path") / 1, "json(path): a JSON file of the repository as a value.";
    Yaml => "yaml" ("path") / 1, "yaml(path): a YAML file of the repository as a value.";
    Toml => "toml" ("path") / 1, "toml(path): a TOML file of the repository as a value.";
    YamlStream => "yaml_stream" ("path") / 1, "yaml_stream(path): every document of a YAML stream of the repository (`---`-separated, as `helm template` writes), empty documents left out.";
    Text => "text" ("path") / 1, "text(path): a file of the repository as a string.";
    JsonOrUnknown => "json_or_unknown" ("path") / 1, "json_or_unknown(path): like json(), but a missing file is a value not known until apply.";
    TextOrUnknown => "text_or_unknown" ("path") / 1, "text_or_unknown(path): like text() (trimmed), but a missing file is a value not known until apply.";
    Sha256 => "sha256" ("s") / 1, "sha256(s): the hex SHA-256 digest of a string.";
    ToJson => "to_json" ("value") / 1, "to_json(value): the value as compact JSON text.";
    Ip => "ip" ("address") / 1, "ip(address): a validated, normalized IPv4 or IPv6 address.";
    Cidr => "cidr" ("prefix") / 1, "cidr(prefix): `{ network, prefix_len, size, version }` of a CIDR prefix.";
    CidrHost => "cidr_host" ("prefix", "n") / 2, "cidr_host(prefix, n): the n-th address of a prefix (0 is the network address).";
    CidrContains => "cidr_contains" ("prefix", "address") / 2, "cidr_contains(prefix, address): whether the address lies in the prefix.";
    IpVersion => "ip_version" ("address") / 1, "ip_version(address): 4 or 6 for a valid IP address, null otherwise.";
    Exists => "exists" ("path") / 1, "exists(path): whether a file exists in the repository.";
    Error => "error" ("message") / 1, "error(message): stops evaluation with this message.";
    Secret => "secret" ("file", "key") / 2, "secret(file, key): a reference to `key` in the sops-encrypted `file` (YAML, JSON, dotenv or INI; `section.key` in INI); opaque.";
    SecretFile => "secret_file" ("file") / 1, "secret_file(file): the whole decrypted content of the sops-encrypted `file`, in any format sops reads (YAML, JSON, dotenv, INI, binary); opaque.";
    TypeOf => "type_of" ("value") / 1, "type_of(value): the value's type name.";
    IsKnown => "is_known" ("value") / 1, "is_known(value): false for values not known until apply.";
    EnvironmentName => "environment_name" () / 0, "environment_name(): the environment named with `ev -e NAME`, or null without one (the standard library's `env` is the environment in use).";
}

impl Builtin {
    /// It reads a file of the repository: what the REPL's `:why` and the
    /// editor follow to the key a value came from.
    pub fn reads_file(self) -> bool {
        matches!(
            self,
            Builtin::Json
                | Builtin::Yaml
                | Builtin::YamlStream
                | Builtin::Toml
                | Builtin::Text
                | Builtin::JsonOrUnknown
                | Builtin::TextOrUnknown
        )
    }
}

/// Calls a builtin with evaluated arguments.
pub fn call(
    ev: &Evaluator<'_>,
    b: Builtin,
    mut args: Args,
    named: Vec<(Sym, Span, Value)>,
    span: Span,
) -> EvalResult {
    let bad = |msg: String| Err(EvalError::new(EvalErrorKind::BadArguments(msg), span));
    let params = b.params();
    let variadic = matches!(
        b,
        Builtin::Format | Builtin::SecretFormat | Builtin::Merge | Builtin::Remove
    );
    // Fast path: positional arguments only, within the builtin's arity.
    if named.is_empty() && !variadic && args.len() >= b.required() && args.len() <= params.len() {
        args.resize(params.len(), Value::Null);
        return finish(ev, b, &args, span);
    }
    if !variadic && args.len() > params.len() {
        return bad(format!(
            "`{}` takes at most {} argument{}, but {} were given",
            b.name(),
            params.len(),
            if params.len() == 1 { "" } else { "s" },
            args.len()
        ));
    }
    let mut slots: Vec<Option<Value>> = args.drain(..).map(Some).collect();
    if variadic && !named.is_empty() {
        return bad(format!("`{}` takes only positional arguments", b.name()));
    }
    let filled = if variadic { b.required() } else { params.len() };
    if slots.len() < filled {
        slots.resize(filled, None);
    }
    for (name, name_span, value) in named {
        match params.iter().position(|p| *p == name.as_str()) {
            Some(i) => match slots.get_mut(i) {
                Some(slot @ None) => *slot = Some(value),
                _ => {
                    return Err(EvalError::new(
                        EvalErrorKind::BadArguments(format!("argument `{name}` is given twice")),
                        name_span,
                    ))
                }
            },
            None => {
                return Err(EvalError::new(
                    EvalErrorKind::BadArguments(format!(
                        "`{}` has no parameter `{name}` (its parameters: {})",
                        b.name(),
                        params.join(", ")
                    )),
                    name_span,
                ))
            }
        }
    }
    for (i, p) in params.iter().enumerate().take(b.required()) {
        if slots.get(i).is_none_or(|s| s.is_none()) {
            return bad(format!("`{}` is missing argument `{p}`", b.name()));
        }
    }
    let args: Args = slots
        .into_iter()
        .map(|s| s.unwrap_or(Value::Null))
        .collect();
    finish(ev, b, &args, span)
}

fn finish(ev: &Evaluator<'_>, b: Builtin, args: &[Value], span: Span) -> EvalResult {
    // Unknown arguments make the result unknown, except for builtins that
    // inspect knownness or build containers of possibly unknown values.
    if !matches!(b, Builtin::IsKnown | Builtin::TypeOf | Builtin::Error) {
        if let Some(Value::Unknown(u)) = args.iter().find(|a| matches!(a, Value::Unknown(_))) {
            return Ok(Value::Unknown(u.clone()));
        }
    }
    let cx = Cx { ev, b, span };
    let result = cx.run(args)?;
    // Every builtin's result is within the size limits (the ones that can
    // grow without bound also check while they build).
    match &result {
        Value::Str(s) => ev.grow(Size::Bytes(s.len()), span)?,
        Value::List(xs) => ev.grow(Size::Items(xs.len()), span)?,
        _ => {}
    }
    Ok(result)
}

struct Cx<'a, 'p> {
    ev: &'a Evaluator<'p>,
    b: Builtin,
    span: Span,
}

fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&Value::Null)
}

impl Cx<'_, '_> {
    fn invalid(&self, message: impl Into<String>) -> Box<EvalError> {
        EvalError::new(
            EvalErrorKind::InvalidArgument {
                function: self.b.name().to_string(),
                message: message.into(),
            },
            self.span,
        )
    }

    fn wrong(&self, param: usize, expected: &str, found: &Value) -> Box<EvalError> {
        let pname = self.b.params().get(param).copied().unwrap_or("argument");
        wrong_type(
            &format!("`{}` argument `{pname}`", self.b.name()),
            expected,
            found,
            self.span,
        )
    }

    fn str<'v>(&self, args: &'v [Value], i: usize) -> EvalResult<&'v str> {
        match arg(args, i) {
            Value::Str(s) => Ok(s),
            Value::Secret(_) => Err(EvalError::new(EvalErrorKind::SecretInString, self.span)),
            other => Err(self.wrong(i, "a String", other)),
        }
    }

    fn int(&self, args: &[Value], i: usize) -> EvalResult<i64> {
        match arg(args, i) {
            Value::Int(n) => Ok(*n),
            other => Err(self.wrong(i, "an Int", other)),
        }
    }

    fn list<'v>(&self, args: &'v [Value], i: usize) -> EvalResult<&'v Rc<[Value]>> {
        match arg(args, i) {
            Value::List(xs) => Ok(xs),
            other => Err(self.wrong(i, "a List", other)),
        }
    }

    fn record<'v>(&self, args: &'v [Value], i: usize) -> EvalResult<&'v Rc<Record>> {
        match arg(args, i) {
            Value::Record(r) => Ok(r),
            other => Err(self.wrong(i, "a Record", other)),
        }
    }

    fn apply(&self, f: &Value, args: Args) -> EvalResult {
        self.ev.step(self.span)?;
        self.ev.call(f, args, Vec::new(), self.span)
    }

    /// The Bool a passed function returns, or the unknown it returns.
    fn predicate(&self, f: &Value, x: Value) -> EvalResult<Result<bool, Rc<Unknown>>> {
        match self.apply(f, smallvec::smallvec![x])? {
            Value::Bool(b) => Ok(Ok(b)),
            Value::Unknown(u) => Ok(Err(u)),
            other => Err(wrong_type(
                &format!("the function passed to `{}`", self.b.name()),
                "to return a Bool",
                &other,
                self.span,
            )),
        }
    }

    /// Walks the template `args[0]` (`{}` slots, `{{`/`}}` escapes) into
    /// `out`, handing each slot's argument to `slot`; the arguments must
    /// match the slots in number (`format`, `secret_format`).
    fn fill_template(
        &self,
        args: &[Value],
        out: &mut String,
        slot: &mut dyn FnMut(&mut String, &Value) -> EvalResult<()>,
    ) -> EvalResult<()> {
        let template = self.str(args, 0)?;
        let explicit: Vec<&Value> = args.iter().skip(1).collect();
        let mut next = 0usize;
        let mut chars = template.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    out.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    out.push('}');
                }
                '{' if chars.peek() == Some(&'}') => {
                    chars.next();
                    let Some(v) = explicit.get(next) else {
                        return Err(self.invalid(format!(
                            "the template has more `{{}}` than the {} argument(s) given",
                            explicit.len()
                        )));
                    };
                    next += 1;
                    slot(out, v)?;
                    self.ev.fits(Size::Bytes(out.len()), self.span)?;
                }
                c => out.push(c),
            }
        }
        if next < explicit.len() {
            return Err(self.invalid(format!(
                "{} argument(s) given but the template uses {}",
                explicit.len(),
                next
            )));
        }
        Ok(())
    }

    fn display(&self, v: &Value) -> EvalResult<String> {
        Ok(match v {
            Value::Str(s) => s.to_string(),
            Value::Int(n) => n.to_string(),
            Value::Float(f) => format_float(*f),
            Value::Bool(b) => b.to_string(),
            Value::Null => "null".into(),
            Value::Secret(_) => {
                return Err(EvalError::new(EvalErrorKind::SecretInString, self.span))
            }
            other => {
                return Err(wrong_type(
                    &format!("`{}`", self.b.name()),
                    "a String, number, Bool or null",
                    other,
                    self.span,
                ))
            }
        })
    }

    fn path(&self, args: &[Value]) -> EvalResult<String> {
        let raw = self.str(args, 0)?;
        match normalize(raw) {
            Ok(p) => Ok(p),
            Err(PathError::EscapesRoot) => Err(EvalError::new(
                EvalErrorKind::PathEscapesRoot {
                    path: raw.to_string(),
                    link_target: None,
                },
                self.span,
            )),
            Err(PathError::Empty) => Err(self.invalid("the path is empty")),
        }
    }

    fn run(&self, a: &[Value]) -> EvalResult {
        Ok(match self.b {
            Builtin::Split => {
                let s = self.str(a, 0)?;
                let sep = self.str(a, 1)?;
                if sep.is_empty() {
                    Value::List(s.chars().map(|c| Value::str(&c.to_string())).collect())
                } else {
                    Value::List(s.split(sep).map(Value::str).collect())
                }
            }
            Builtin::Join => {
                let xs = self.list(a, 0)?;
                let sep = self.str(a, 1)?;
                let mut out = String::new();
                for (i, x) in xs.iter().enumerate() {
                    if i > 0 {
                        out.push_str(sep);
                    }
                    match x {
                        Value::Unknown(u) => return Ok(Value::Unknown(u.clone())),
                        other => out.push_str(&self.display(other)?),
                    }
                    self.ev.fits(Size::Bytes(out.len()), self.span)?;
                }
                Value::Str(Rc::from(out))
            }
            Builtin::Trim => Value::str(self.str(a, 0)?.trim()),
            Builtin::Replace => {
                let from = self.str(a, 1)?;
                if from.is_empty() {
                    return Err(self.invalid("`from` must not be empty"));
                }
                let (text, to) = (self.str(a, 0)?, self.str(a, 2)?);
                let grown = text.matches(from).count().saturating_mul(to.len());
                self.ev
                    .grow(Size::Bytes(text.len().saturating_add(grown)), self.span)?;
                Value::str(&text.replace(from, to))
            }
            Builtin::Lower => Value::str(&self.str(a, 0)?.to_lowercase()),
            Builtin::Upper => Value::str(&self.str(a, 0)?.to_uppercase()),
            Builtin::StartsWith => Value::Bool(self.str(a, 0)?.starts_with(self.str(a, 1)?)),
            Builtin::EndsWith => Value::Bool(self.str(a, 0)?.ends_with(self.str(a, 1)?)),
            Builtin::Contains => match arg(a, 0) {
                Value::Str(s) => Value::Bool(s.contains(self.str(a, 1)?)),
                Value::List(xs) => {
                    let needle = arg(a, 1);
                    let mut found = Ok(false);
                    for x in xs.iter() {
                        match self.ev.equal(x, needle, self.span)? {
                            Ok(true) => {
                                found = Ok(true);
                                break;
                            }
                            Ok(false) => {}
                            Err(u) => found = Err(u),
                        }
                    }
                    match found {
                        Ok(b) => Value::Bool(b),
                        Err(u) => Unknown::derived("a list element is not known yet", &u),
                    }
                }
                other => return Err(self.wrong(0, "a String or List", other)),
            },
            Builtin::Format => {
                let mut out = String::new();
                self.fill_template(a, &mut out, &mut |out, v| {
                    out.push_str(&self.display(v)?);
                    Ok(())
                })?;
                Value::Str(Rc::from(out))
            }
            Builtin::SecretFormat => {
                // Text accumulates in `text`; each reference closes the text
                // before it into a part of its own.
                let mut parts: Vec<SecretPart> = Vec::new();
                let mut text = String::new();
                self.fill_template(a, &mut text, &mut |text, v| {
                    let Value::Secret(secret) = v else {
                        text.push_str(&self.display(v)?);
                        return Ok(());
                    };
                    let inner = match &**secret {
                        Secret::Ref(r) => vec![SecretPart::Ref(r.clone())],
                        Secret::Composed(p) => p.clone(),
                    };
                    for part in inner {
                        match part {
                            SecretPart::Text(t) => text.push_str(&t),
                            reference => {
                                if !text.is_empty() {
                                    parts.push(SecretPart::Text(std::mem::take(text)));
                                }
                                parts.push(reference);
                            }
                        }
                    }
                    Ok(())
                })?;
                if !text.is_empty() {
                    parts.push(SecretPart::Text(text));
                }
                Value::Secret(Rc::new(Secret::Composed(parts)))
            }
            Builtin::ToString => Value::str(&self.display(arg(a, 0))?),
            Builtin::ToInt => match arg(a, 0) {
                Value::Int(n) => Value::Int(*n),
                Value::Float(f) if f.is_finite() && f.abs() < 9.2e18 => Value::Int(*f as i64),
                Value::Float(f) => {
                    return Err(self.invalid(format!(
                        "{} is outside the 64-bit integer range",
                        format_float(*f)
                    )))
                }
                Value::Str(s) => match s.trim().parse::<i64>() {
                    Ok(n) => Value::Int(n),
                    Err(_) => return Err(self.invalid(format!("{s:?} is not an integer"))),
                },
                other => return Err(self.wrong(0, "a String or number", other)),
            },
            Builtin::Map => {
                let xs = self.list(a, 0)?;
                let f = arg(a, 1);
                let mut out = Vec::with_capacity(xs.len());
                for x in xs.iter() {
                    out.push(self.apply(f, smallvec::smallvec![x.clone()])?);
                }
                Value::List(Rc::from(out))
            }
            Builtin::Filter => {
                let xs = self.list(a, 0)?;
                let f = arg(a, 1);
                let mut out = Vec::new();
                for x in xs.iter() {
                    match self.predicate(f, x.clone())? {
                        Ok(true) => out.push(x.clone()),
                        Ok(false) => {}
                        Err(u) => {
                            return Ok(Unknown::derived("a filter condition is not known yet", &u))
                        }
                    }
                }
                Value::List(Rc::from(out))
            }
            Builtin::FlatMap => {
                let xs = self.list(a, 0)?;
                let f = arg(a, 1);
                let mut out = Vec::new();
                for x in xs.iter() {
                    match self.apply(f, smallvec::smallvec![x.clone()])? {
                        Value::List(ys) => {
                            self.ev.fits(Size::Items(out.len() + ys.len()), self.span)?;
                            out.extend(ys.iter().cloned())
                        }
                        Value::Unknown(u) => return Ok(Value::Unknown(u)),
                        other => {
                            return Err(wrong_type(
                                "the function passed to `flat_map`",
                                "to return a List",
                                &other,
                                self.span,
                            ))
                        }
                    }
                }
                Value::List(Rc::from(out))
            }
            Builtin::Len => match arg(a, 0) {
                Value::List(xs) => Value::Int(xs.len() as i64),
                Value::Str(s) => Value::Int(s.chars().count() as i64),
                Value::Record(r) => Value::Int(r.len() as i64),
                other => return Err(self.wrong(0, "a List, String or Record", other)),
            },
            Builtin::Sort => {
                let xs = self.list(a, 0)?;
                let mut keyed: Vec<(Value, Value)> =
                    xs.iter().map(|x| (x.clone(), x.clone())).collect();
                self.sort_keyed(&mut keyed)?;
                Value::List(keyed.into_iter().map(|(_, v)| v).collect())
            }
            Builtin::SortBy => {
                let xs = self.list(a, 0)?;
                let f = arg(a, 1);
                let mut keyed = Vec::with_capacity(xs.len());
                for x in xs.iter() {
                    keyed.push((self.apply(f, smallvec::smallvec![x.clone()])?, x.clone()));
                }
                self.sort_keyed(&mut keyed)?;
                Value::List(keyed.into_iter().map(|(_, v)| v).collect())
            }
            Builtin::Unique => {
                let xs = self.list(a, 0)?;
                let mut out: Vec<Value> = Vec::new();
                let mut seen_str: HashSet<Rc<str>> = HashSet::new();
                let mut seen_int: HashSet<i64> = HashSet::new();
                for x in xs.iter() {
                    let fresh = match x {
                        Value::Str(s) => seen_str.insert(s.clone()),
                        Value::Int(n) => seen_int.insert(*n),
                        Value::Unknown(u) => return Ok(Value::Unknown(u.clone())),
                        other => {
                            let mut fresh = true;
                            for y in &out {
                                if self.ev.equal(other, y, self.span)? == Ok(true) {
                                    fresh = false;
                                    break;
                                }
                            }
                            fresh
                        }
                    };
                    if fresh {
                        out.push(x.clone());
                    }
                }
                Value::List(Rc::from(out))
            }
            Builtin::Any | Builtin::All => {
                let xs = self.list(a, 0)?;
                let f = arg(a, 1);
                let want = matches!(self.b, Builtin::Any);
                let mut unknown_seen = None;
                for x in xs.iter() {
                    match self.predicate(f, x.clone())? {
                        Ok(b) if b == want => return Ok(Value::Bool(want)),
                        Ok(_) => {}
                        Err(u) => unknown_seen = Some(u),
                    }
                }
                if let Some(u) = unknown_seen {
                    Unknown::derived("a condition is not known yet", &u)
                } else {
                    Value::Bool(!want)
                }
            }
            Builtin::Range => {
                let (start, end) = match arg(a, 1) {
                    Value::Null => (0, self.int(a, 0)?),
                    _ => (self.int(a, 0)?, self.int(a, 1)?),
                };
                let len = end.saturating_sub(start).max(0);
                self.ev.fits(Size::Items(len as usize), self.span)?;
                self.ev.charge(len as u64, self.span)?;
                Value::List((start..end.max(start)).map(Value::Int).collect())
            }
            Builtin::Zip => {
                let xs = self.list(a, 0)?;
                let ys = self.list(a, 1)?;
                Value::List(
                    xs.iter()
                        .zip(ys.iter())
                        .map(|(x, y)| Value::List(Rc::from(vec![x.clone(), y.clone()])))
                        .collect(),
                )
            }
            Builtin::GroupBy => {
                let xs = self.list(a, 0)?;
                let f = arg(a, 1);
                let mut groups: Vec<(Sym, Vec<Value>)> = Vec::new();
                let mut index: std::collections::HashMap<Sym, usize> =
                    std::collections::HashMap::new();
                for x in xs.iter() {
                    let key = match self.apply(f, smallvec::smallvec![x.clone()])? {
                        Value::Unknown(u) => return Ok(Value::Unknown(u)),
                        k => Sym::new(&self.display(&k)?),
                    };
                    match index.get(&key) {
                        Some(&i) => {
                            if let Some(g) = groups.get_mut(i) {
                                g.1.push(x.clone());
                            }
                        }
                        None => {
                            index.insert(key, groups.len());
                            groups.push((key, vec![x.clone()]));
                        }
                    }
                }
                Value::Record(Rc::new(Record::new(
                    groups
                        .into_iter()
                        .map(|(k, v)| (k, Thunk::Ready(Value::List(Rc::from(v)))))
                        .collect(),
                )))
            }
            Builtin::Fold => {
                let xs = self.list(a, 0)?;
                let f = arg(a, 2);
                let mut acc = arg(a, 1).clone();
                for x in xs.iter() {
                    acc = self.apply(f, smallvec::smallvec![acc, x.clone()])?;
                }
                acc
            }
            Builtin::Reverse => {
                let xs = self.list(a, 0)?;
                Value::List(xs.iter().rev().cloned().collect())
            }
            Builtin::Flatten => {
                let xs = self.list(a, 0)?;
                let mut out = Vec::new();
                for x in xs.iter() {
                    match x {
                        Value::List(ys) => {
                            self.ev.fits(Size::Items(out.len() + ys.len()), self.span)?;
                            out.extend(ys.iter().cloned())
                        }
                        Value::Unknown(u) => return Ok(Value::Unknown(u.clone())),
                        other => return Err(self.wrong(0, "a List of Lists", other)),
                    }
                }
                Value::List(Rc::from(out))
            }
            Builtin::Keys => {
                let r = self.record(a, 0)?;
                Value::List(
                    r.fields()
                        .iter()
                        .map(|(k, _)| Value::str(k.as_str()))
                        .collect(),
                )
            }
            Builtin::Values => {
                let r = self.record(a, 0)?;
                let mut out = Vec::with_capacity(r.len());
                for (_, t) in r.fields() {
                    out.push(self.ev.force(t, self.span)?);
                }
                Value::List(Rc::from(out))
            }
            Builtin::Has => {
                let r = self.record(a, 0)?;
                Value::Bool(r.get(Sym::new(self.str(a, 1)?)).is_some())
            }
            Builtin::Get => {
                let r = self.record(a, 0)?;
                let key = self.str(a, 1)?;
                match r.get(Sym::new(key)) {
                    Some(t) => self.ev.force(t, self.span)?,
                    None if a.len() > 2 => arg(a, 2).clone(),
                    None => {
                        return Err(EvalError::new(
                            EvalErrorKind::NoSuchField {
                                field: key.to_string(),
                                suggestions: crate::suggest::similar(
                                    key,
                                    r.fields().iter().map(|(k, _)| k.as_str()),
                                ),
                                available: crate::eval::available_fields(r),
                            },
                            self.span,
                        ))
                    }
                }
            }
            Builtin::MapValues => {
                let r = self.record(a, 0)?;
                let f = arg(a, 1);
                let mut fields = Vec::with_capacity(r.len());
                for (k, t) in r.fields() {
                    let v = self.ev.force(t, self.span)?;
                    fields.push((
                        *k,
                        Thunk::Ready(
                            self.apply(f, smallvec::smallvec![Value::str(k.as_str()), v])?,
                        ),
                    ));
                }
                Value::Record(Rc::new(Record::new(fields)))
            }
            Builtin::Merge => {
                let mut builder = RecordBuilder::new();
                for (i, x) in a.iter().enumerate() {
                    match x {
                        Value::Record(r) => {
                            for (k, t) in r.fields() {
                                builder.set(*k, t.clone());
                            }
                        }
                        Value::Null if i > 0 => {}
                        other => return Err(self.wrong(0, "Records", other)),
                    }
                }
                Value::Record(Rc::new(builder.build()))
            }
            Builtin::Remove => {
                let r = self.record(a, 0)?;
                let mut drop = HashSet::new();
                for (i, k) in a.iter().enumerate().skip(1) {
                    match k {
                        Value::Str(s) => {
                            drop.insert(Sym::new(s));
                        }
                        Value::List(ks) => {
                            for k in ks.iter() {
                                if let Value::Str(s) = k {
                                    drop.insert(Sym::new(s));
                                }
                            }
                        }
                        Value::Null => {}
                        other => return Err(self.wrong(i.min(1), "a String", other)),
                    }
                }
                Value::Record(Rc::new(Record::new(
                    r.fields()
                        .iter()
                        .filter(|(k, _)| !drop.contains(k))
                        .cloned()
                        .collect(),
                )))
            }
            Builtin::ToEntries => {
                let r = self.record(a, 0)?;
                let key = Sym::new("key");
                let value = Sym::new("value");
                Value::List(
                    r.fields()
                        .iter()
                        .map(|(k, t)| {
                            Value::Record(Rc::new(Record::new(vec![
                                (key, Thunk::Ready(Value::str(k.as_str()))),
                                (value, t.clone()),
                            ])))
                        })
                        .collect(),
                )
            }
            Builtin::FromEntries => {
                let xs = self.list(a, 0)?;
                let key = Sym::new("key");
                let value = Sym::new("value");
                let mut builder = RecordBuilder::new();
                for x in xs.iter() {
                    let Value::Record(r) = x else {
                        return Err(self.wrong(0, "a List of `{ key, value }` records", x));
                    };
                    let k = match r.get(key) {
                        Some(t) => self.ev.force(t, self.span)?,
                        None => return Err(self.invalid("an entry has no `key` field")),
                    };
                    let k = match k {
                        Value::Str(s) => s,
                        other => return Err(self.wrong(0, "String keys", &other)),
                    };
                    let v = r.get(value).cloned().unwrap_or(Thunk::Ready(Value::Null));
                    builder.set(Sym::new(&k), v);
                }
                Value::Record(Rc::new(builder.build()))
            }
            Builtin::Json | Builtin::Yaml | Builtin::YamlStream | Builtin::Toml | Builtin::Text => {
                let path = self.path(a)?;
                self.read_data(&path, false)?
            }
            Builtin::JsonOrUnknown | Builtin::TextOrUnknown => {
                let path = self.path(a)?;
                self.read_data(&path, true)?
            }
            Builtin::Sha256 => {
                use sha2::{Digest, Sha256};
                let digest = Sha256::digest(self.str(a, 0)?.as_bytes());
                Value::Str(Rc::from(hex::encode(digest)))
            }
            Builtin::ToJson => {
                if let Some(unknown) =
                    crate::output::check_text_data(self.ev, arg(a, 0), self.span)?
                {
                    return Ok(unknown);
                }
                let json = crate::output::to_json_marked(self.ev, arg(a, 0), self.span)?;
                Value::str(&json.to_string())
            }
            Builtin::Ip => {
                let s = self.str(a, 0)?;
                match s.parse::<IpAddr>() {
                    Ok(ip) => Value::str(&ip.to_string()),
                    Err(_) => return Err(self.invalid(format!("{s:?} is not an IP address"))),
                }
            }
            Builtin::Cidr => {
                let net = self.parse_cidr(self.str(a, 0)?)?;
                Value::Record(Rc::new(Record::new(vec![
                    (
                        Sym::new("network"),
                        Thunk::Ready(Value::str(&net.nth(0).to_string())),
                    ),
                    (
                        Sym::new("prefix_len"),
                        Thunk::Ready(Value::Int(i64::from(net.prefix))),
                    ),
                    (
                        Sym::new("size"),
                        Thunk::Ready(match i64::try_from(net.size()) {
                            Ok(n) => Value::Int(n),
                            Err(_) => Value::str(&net.size().to_string()),
                        }),
                    ),
                    (
                        Sym::new("version"),
                        Thunk::Ready(Value::Int(if net.v6 { 6 } else { 4 })),
                    ),
                ])))
            }
            Builtin::CidrHost => {
                let net = self.parse_cidr(self.str(a, 0)?)?;
                let n = self.int(a, 1)?;
                let Ok(n) = u128::try_from(n) else {
                    return Err(self.invalid(format!("host number {n} is negative")));
                };
                if n >= net.size() {
                    return Err(self.invalid(format!(
                        "host number {n} is outside the prefix, which has {} addresses",
                        net.size()
                    )));
                }
                Value::str(&net.nth(n).to_string())
            }
            Builtin::CidrContains => {
                let net = self.parse_cidr(self.str(a, 0)?)?;
                let s = self.str(a, 1)?;
                let ip: IpAddr = s
                    .parse()
                    .map_err(|_| self.invalid(format!("{s:?} is not an IP address")))?;
                Value::Bool(net.contains(ip))
            }
            Builtin::IpVersion => match self.str(a, 0)?.parse::<IpAddr>() {
                Ok(IpAddr::V4(_)) => Value::Int(4),
                Ok(IpAddr::V6(_)) => Value::Int(6),
                Err(_) => Value::Null,
            },
            Builtin::Exists => {
                let path = self.path(a)?;
                match self.ev.fs.probe(&path) {
                    Ok(found) => Value::Bool(found),
                    Err(e) => return Err(self.read_error(&path, &e, "")),
                }
            }
            Builtin::Error => match arg(a, 0) {
                Value::Str(s) => {
                    return Err(EvalError::new(
                        EvalErrorKind::UserError(s.to_string()),
                        self.span,
                    ))
                }
                other => {
                    return Err(EvalError::new(
                        EvalErrorKind::UserError(format!(
                            "error() called with {}",
                            other.type_name()
                        )),
                        self.span,
                    ))
                }
            },
            Builtin::Secret => {
                let file = self.path(a)?;
                let key = self.str(a, 1)?;
                if key.is_empty() {
                    return Err(self.invalid("the secret key must not be empty"));
                }
                self.check_secret(&file, key)?;
                Value::Secret(Rc::new(Secret::Ref(SecretRef {
                    file,
                    key: key.to_string(),
                })))
            }
            Builtin::SecretFile => {
                let file = self.path(a)?;
                self.sops_document(&file)?;
                // The key path of the whole file is empty (the document's root).
                Value::Secret(Rc::new(Secret::Ref(SecretRef {
                    file,
                    key: String::new(),
                })))
            }
            Builtin::TypeOf => Value::str(arg(a, 0).type_name()),
            Builtin::IsKnown => Value::Bool(!matches!(arg(a, 0), Value::Unknown(_))),
            Builtin::EnvironmentName => match &self.ev.program.environment {
                Some(name) => Value::str(name),
                None => Value::Null,
            },
        })
    }

    /// A sops-encrypted file of the repository as a document of its keys
    /// (values still encrypted), read in the format sops gives it by its
    /// extension: JSON, dotenv (`.env`), INI (`.ini`), YAML (`.yaml`,
    /// `.yml`), else binary (a JSON document with `data`). sops keeps keys
    /// in clear text, so this needs no decryption.
    fn sops_document(&self, file: &str) -> EvalResult<serde_json::Value> {
        let text = self
            .ev
            .fs
            .read(file)
            .map_err(|e| self.read_error(file, &e, "no such secrets file"))?;
        let extension = file.rsplit_once('.').map_or("", |(_, e)| e);
        let doc: serde_json::Value = match extension {
            "yaml" | "yml" => serde_saphyr::from_str(&text)
                .map_err(|e| self.invalid(format!("{file} is not valid YAML: {e}")))?,
            "env" => sops_dotenv(&text),
            "ini" => sops_ini(&text),
            "json" => serde_json::from_str(&text)
                .map_err(|e| self.invalid(format!("{file} is not valid JSON: {e}")))?,
            // sops keeps any other file as JSON with `data` and `sops`.
            _ => serde_json::from_str(&text).map_err(|_| {
                self.invalid(format!(
                    "{file} is not encrypted with sops (sops keeps a file of this kind as JSON with `data` and `sops`); encrypt it with `sops --encrypt --in-place {file}`"
                ))
            })?,
        };
        if doc.get("sops").is_none() {
            return Err(self.invalid(format!(
                "{file} is not encrypted with sops (it has no `sops` metadata); encrypt it with `sops --encrypt`"
            )));
        }
        Ok(doc)
    }

    /// A secret must name a sops-encrypted file of the repository and a key
    /// in it.
    fn check_secret(&self, file: &str, key: &str) -> EvalResult<()> {
        let doc = self.sops_document(file)?;
        let mut node = &doc;
        let mut walked = Vec::new();
        for part in key.split('.') {
            match node.get(part) {
                Some(next) => {
                    node = next;
                    walked.push(part);
                }
                None => {
                    let siblings: Vec<String> = node
                        .as_object()
                        .map(|o| o.keys().filter(|k| *k != "sops").cloned().collect())
                        .unwrap_or_default();
                    let hint = crate::suggest::similar(part, siblings.iter().map(|s| s.as_str()));
                    let at = if walked.is_empty() {
                        String::new()
                    } else {
                        format!(" under `{}`", walked.join("."))
                    };
                    let mut msg = format!("{file} has no key `{part}`{at}");
                    match hint.first() {
                        Some(h) => msg.push_str(&format!(" (did you mean `{h}`?)")),
                        None if !siblings.is_empty() => {
                            msg.push_str(&format!(" (it has: {})", siblings.join(", ")))
                        }
                        None => {}
                    }
                    return Err(self.invalid(msg));
                }
            }
        }
        Ok(())
    }

    /// The error of a failed read of `path` (`missing`: what to say when
    /// nothing is there).
    fn read_error(&self, path: &str, e: &std::io::Error, missing: &str) -> Box<EvalError> {
        let kind = match ReadFailure::of(e) {
            ReadFailure::Escapes { link_target } => EvalErrorKind::PathEscapesRoot {
                path: path.to_string(),
                link_target,
            },
            ReadFailure::NotFound => EvalErrorKind::FileRead {
                path: path.to_string(),
                message: missing.to_string(),
            },
            ReadFailure::Unreadable(why) => EvalErrorKind::FileRead {
                path: path.to_string(),
                message: why,
            },
        };
        EvalError::new(kind, self.span)
    }

    fn sort_keyed(&self, keyed: &mut [(Value, Value)]) -> EvalResult<()> {
        let mut kind: Option<&'static str> = None;
        for (k, _) in keyed.iter() {
            let this = match k {
                Value::Int(_) | Value::Float(_) => "number",
                Value::Str(_) => "string",
                Value::Unknown(_) => {
                    return Err(EvalError::new(
                        EvalErrorKind::UnknownNeeded {
                            operation: format!("`{}`", self.b.name()),
                            reason: "a sort key is not known yet".into(),
                        },
                        self.span,
                    ))
                }
                other => return Err(self.wrong(0, "numbers or strings", other)),
            };
            match kind {
                None => kind = Some(this),
                Some(k) if k != this => {
                    return Err(self.invalid("cannot sort a mix of numbers and strings"))
                }
                _ => {}
            }
        }
        keyed.sort_by(|(a, _), (b, _)| match (a, b) {
            (Value::Int(x), Value::Int(y)) => x.cmp(y),
            (Value::Str(x), Value::Str(y)) => x.cmp(y),
            // Numbers are finite (arithmetic refuses infinities), so the
            // total order is the usual one.
            (x, y) => num(x).total_cmp(&num(y)),
        });
        Ok(())
    }

    fn read_data(&self, path: &str, missing_is_unknown: bool) -> EvalResult {
        let key = (path.to_string(), self.b.name());
        if let Some(cached) = self.ev.data_cache.borrow().get(&key) {
            return cached.clone();
        }
        let result = self.read_data_uncached(path, missing_is_unknown);
        self.ev.data_cache.borrow_mut().insert(key, result.clone());
        result
    }

    fn read_data_uncached(&self, path: &str, missing_is_unknown: bool) -> EvalResult {
        let text = match self.ev.fs.read(path) {
            Ok(t) => t,
            Err(e) if missing_is_unknown && ReadFailure::of(&e) == ReadFailure::NotFound => {
                return Ok(Value::Unknown(Rc::new(Unknown {
                    reason: format!("{path} does not exist yet"),
                    file: Some(path.to_string()),
                })))
            }
            Err(e) => return Err(self.read_error(path, &e, "no such file")),
        };
        let bad = |message: String| {
            EvalError::new(
                EvalErrorKind::BadData {
                    path: path.to_string(),
                    message,
                },
                self.span,
            )
        };
        let json: serde_json::Value = match self.b {
            Builtin::Text => return Ok(Value::Str(Rc::from(text))),
            Builtin::TextOrUnknown => return Ok(Value::str(text.trim())),
            Builtin::Json | Builtin::JsonOrUnknown => {
                serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?
            }
            Builtin::Yaml => serde_saphyr::from_str(&text).map_err(|e| bad(e.to_string()))?,
            Builtin::YamlStream => serde_json::Value::Array(
                serde_saphyr::from_multiple::<serde_json::Value>(&text)
                    .map_err(|e| bad(e.to_string()))?
                    .into_iter()
                    .filter(|doc| !doc.is_null())
                    .collect(),
            ),
            _ => toml::from_str(&text).map_err(|e| bad(e.to_string()))?,
        };
        Ok(crate::output::from_json(&json))
    }

    fn parse_cidr(&self, s: &str) -> EvalResult<Net> {
        let bad = || self.invalid(format!("{s:?} is not a CIDR prefix like 192.0.2.0/24"));
        let (addr, len) = s.split_once('/').ok_or_else(bad)?;
        let ip: IpAddr = addr.parse().map_err(|_| bad())?;
        let prefix: u8 = len.parse().map_err(|_| bad())?;
        let (bits, v6, raw) = match ip {
            IpAddr::V4(v4) => (32u8, false, u128::from(u32::from(v4))),
            IpAddr::V6(v6) => (128u8, true, u128::from(v6)),
        };
        if prefix > bits {
            return Err(self.invalid(format!(
                "prefix length /{prefix} is longer than {bits} bits"
            )));
        }
        let host_bits = u32::from(bits - prefix);
        let mask = if host_bits >= 128 {
            0
        } else {
            (!0u128) << host_bits
        };
        let mask = if v6 { mask } else { mask & 0xffff_ffff };
        Ok(Net {
            base: raw & mask,
            prefix,
            bits,
            v6,
        })
    }
}

fn num(v: &Value) -> f64 {
    match v {
        Value::Int(n) => *n as f64,
        Value::Float(f) => *f,
        _ => 0.0,
    }
}

struct Net {
    base: u128,
    prefix: u8,
    bits: u8,
    v6: bool,
}

impl Net {
    fn size(&self) -> u128 {
        let host_bits = u32::from(self.bits - self.prefix);
        if host_bits >= 128 {
            u128::MAX
        } else {
            1u128 << host_bits
        }
    }

    fn nth(&self, n: u128) -> IpAddr {
        let raw = self.base.wrapping_add(n);
        if self.v6 {
            IpAddr::V6(std::net::Ipv6Addr::from(raw))
        } else {
            IpAddr::V4(std::net::Ipv4Addr::from(
                u32::try_from(raw & 0xffff_ffff).unwrap_or(0),
            ))
        }
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let raw = match (ip, self.v6) {
            (IpAddr::V4(v4), false) => u128::from(u32::from(v4)),
            (IpAddr::V6(v6), true) => u128::from(v6),
            _ => return false,
        };
        raw >= self.base && raw - self.base < self.size()
    }
}

/// The keys of a sops-encrypted dotenv file (`KEY=ENC[...]` lines; sops'
/// metadata in `sops_*` lines), as a document.
fn sops_dotenv(text: &str) -> serde_json::Value {
    let mut doc = serde_json::Map::new();
    let mut sops = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            if k.starts_with("sops_") {
                sops = true;
            } else {
                doc.insert(
                    k.trim().to_string(),
                    serde_json::Value::String(v.to_string()),
                );
            }
        }
    }
    if sops {
        doc.insert("sops".into(), serde_json::Value::Bool(true));
    }
    serde_json::Value::Object(doc)
}

/// The keys of a sops-encrypted INI file (`[section]` headers, `key =
/// value` lines; sops' metadata in a `[sops]` section), as a document of
/// sections.
fn sops_ini(text: &str) -> serde_json::Value {
    let mut doc = serde_json::Map::new();
    let mut section = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_string();
            doc.entry(section.clone())
                .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
        } else if let Some((k, v)) = line.split_once('=') {
            if let Some(serde_json::Value::Object(entries)) = doc.get_mut(&section) {
                entries.insert(
                    k.trim().to_string(),
                    serde_json::Value::String(v.trim().to_string()),
                );
            }
        }
    }
    serde_json::Value::Object(doc)
}
