//! Nix: per machine a flake under `flake-profiles/system-<name>/` wiring its
//! `venus/` modules, and the values ev knows (the machine, stack outputs)
//! rendered as a Nix file the modules read through `ev`, so they
//! need no import-from-derivation.

use serde_json::{json, Value};

use crate::model::Machine;
use crate::plan::RenderedFile;

use super::{known_json, Unknowns};

/// A JSON value as a Nix expression.
pub fn to_nix(v: &Value, indent: usize) -> String {
    let pad = "  ".repeat(indent + 1);
    let end = "  ".repeat(indent);
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => nix_string(s),
        Value::Array(items) if items.is_empty() => "[ ]".into(),
        Value::Array(items) => {
            let mut out = String::from("[\n");
            for i in items {
                out.push_str(&format!("{pad}{}\n", paren(to_nix(i, indent + 1))));
            }
            out.push_str(&format!("{end}]"));
            out
        }
        Value::Object(map) if map.is_empty() => "{ }".into(),
        Value::Object(map) => {
            let mut out = String::from("{\n");
            for (k, v) in map {
                out.push_str(&format!(
                    "{pad}{} = {};\n",
                    nix_key(k),
                    to_nix(v, indent + 1)
                ));
            }
            out.push_str(&format!("{end}}}"));
            out
        }
    }
}

fn paren(s: String) -> String {
    if s.contains(' ') && !s.starts_with('"') && !s.starts_with('{') && !s.starts_with('[') {
        format!("({s})")
    } else {
        s
    }
}

/// A Nix string literal: the one place ev quotes text for Nix, so no value
/// can end the string or start an interpolation (`${`).
pub fn nix_string(s: &str) -> String {
    let mut out = String::from("\"");
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '$' if chars.peek() == Some(&'{') => out.push_str("\\$"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Nix's keywords: never bare attribute names.
const NIX_KEYWORDS: &[&str] = &[
    "assert", "else", "if", "in", "inherit", "let", "or", "rec", "then", "with",
];

/// An attribute name: bare when Nix reads it as one, quoted otherwise
/// (keywords, anything with other characters).
pub fn nix_key(k: &str) -> String {
    let bare = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '\'')
        && !NIX_KEYWORDS.contains(&k);
    if bare {
        k.to_string()
    } else {
        nix_string(k)
    }
}

/// A repository file as a Nix path from the profile's directory: a path
/// literal when it is plain, else the directory plus a quoted string.
fn nix_repo_path(p: &str) -> String {
    let plain = p
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '/'))
        && !p.contains("//")
        && !p.ends_with('/');
    if plain {
        format!("../../{p}")
    } else {
        format!("(../.. + {})", nix_string(&format!("/{p}")))
    }
}

/// The flake and values file of one machine: its modules read
/// `ev.machine` (name, platform, os, address, tags) and each of its
/// declared `values` as `ev.<name>`.
pub fn machine(m: &Machine) -> Vec<RenderedFile> {
    let mut unknowns = Unknowns::default();
    let dir = format!("flake-profiles/system-{}", m.name);
    let address = m
        .address
        .as_ref()
        .map(|a| known_json(a, &mut unknowns))
        .unwrap_or(Value::Null);
    let mut values = serde_json::Map::new();
    values.insert(
        "machine".into(),
        json!({
            "name": m.name,
            "platform": m.platform,
            "os": m.os,
            "address": address,
            "tags": m.tags,
        }),
    );
    for (name, value) in &m.values {
        // The schema refuses a `machine` entry: `ev.machine` is ev's own.
        values
            .entry(name.clone())
            .or_insert_with(|| super::plain_json(value, &mut unknowns));
    }
    let values = Value::Object(values);
    let modules: String = m
        .modules
        .iter()
        .map(|p| format!("          {}\n", nix_repo_path(p)))
        .collect();
    let darwin = m.os == "darwin";
    let deploy_rs = m.activation.method == "deploy-rs";
    let mut inputs = format!("    nixpkgs.url = {};\n", nix_string(&m.nixpkgs));
    if darwin {
        inputs.push_str("    nix-darwin.url = \"github:LnL7/nix-darwin\";\n    nix-darwin.inputs.nixpkgs.follows = \"nixpkgs\";\n");
    }
    if deploy_rs {
        inputs.push_str("    deploy-rs.url = \"github:serokell/deploy-rs\";\n    deploy-rs.inputs.nixpkgs.follows = \"nixpkgs\";\n");
    }
    let system = if darwin {
        format!(
            "      darwinConfigurations.{name} = inputs.nix-darwin.lib.darwinSystem {{\n        system = \"{platform}\";\n        specialArgs = {{ inherit ev; }};\n        modules = [\n{modules}        ];\n      }};\n",
            name = nix_key(&m.name),
            platform = m.platform
        )
    } else {
        format!(
            "      nixosConfigurations.{name} = nixpkgs.lib.nixosSystem {{\n        system = \"{platform}\";\n        specialArgs = {{ inherit ev; }};\n        modules = [\n{modules}        ];\n      }};\n",
            name = nix_key(&m.name),
            platform = m.platform
        )
    };
    let deploy = match (&address, deploy_rs) {
        (Value::String(host), true) => format!(
            "      deploy.nodes.{name} = {{\n        hostname = {host};\n        sshUser = {user};\n        remoteBuild = {remote};\n        profiles.system = {{\n          user = \"root\";\n          path = inputs.deploy-rs.lib.{platform}.activate.nixos self.nixosConfigurations.{name};\n        }};\n      }};\n",
            name = nix_key(&m.name),
            host = nix_string(host),
            user = nix_string(m.activation.ssh_user.as_deref().unwrap_or("root")),
            remote = m.activation.remote_build,
            platform = m.platform,
        ),
        _ => String::new(),
    };
    let flake = format!(
        "# Generated by ev from the `{name}` machine declaration; do not edit.\n# Its own flake, so its own lock file: updating one machine never moves another.\n{{\n  description = {description};\n\n  inputs = {{\n{inputs}  }};\n\n  outputs = {{ self, nixpkgs, ... }}@inputs:\n    let\n      ev = import ./ev-values.nix;\n    in\n    {{\n{system}{deploy}    }};\n}}\n",
        // Names are plain (`Name`), but comments stay on one line anyway.
        name = m.name.replace(['\n', '\r'], " "),
        description = nix_string(&format!("{} profile of {}, generated by ev", m.os, m.name)),
    );
    vec![
        RenderedFile {
            path: format!("{dir}/flake.nix"),
            content: flake,
            unknowns: Default::default(),
        },
        RenderedFile {
            path: format!("{dir}/ev-values.nix"),
            content: format!(
                "# Generated by ev: values Nix modules read as `ev`; do not edit.\n{}\n",
                to_nix(&values, 0)
            ),
            unknowns,
        },
    ]
}
