//! The language server harness: each `tests/lsp/*.lsp` file is one case
//! holding the repository's files and the steps to run against `ev lsp`
//! over stdio; the transcript of results is a snapshot.
//!
//! Case format (a line starting with `###` begins a section):
//!
//! ```text
//! # What the case shows (comment lines before the first section).
//! ### file PATH            the following lines are the file's text
//! ### open PATH            didOpen with the file's current text
//! ### change PATH L:C-L:C  replace that range with the following lines
//!                          (without the final newline; empty = delete)
//! ### write PATH           write the following lines to disk and tell the
//!                          server (workspace/didChangeWatchedFiles)
//! ### diagnostics          wait for diagnostics and print every file's
//! ### hover PATH L:C       and likewise definition, references,
//!                          completion (L:C [N]), prepare-rename,
//!                          code-actions, signature; rename PATH L:C NEW;
//!                          format PATH; symbols PATH;
//!                          workspace-symbols QUERY
//! ```
//!
//! Positions are 1-based lines and columns in characters; the harness
//! converts columns to UTF-16 code units as LSP requires, and back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ev_lsp::client::Client;
use ev_lsp::convert::{path_uri, uri_path};
use serde_json::{json, Value};

/// One harness case, parsed.
struct Case {
    files: Vec<(String, String)>,
    steps: Vec<(String, Vec<String>, String)>,
}

fn parse_case(text: &str) -> Case {
    let mut files = Vec::new();
    let mut steps: Vec<(String, Vec<String>, String)> = Vec::new();
    let mut current: Option<(String, Vec<String>, Vec<&str>)> = None;
    let flush = |current: &mut Option<(String, Vec<String>, Vec<&str>)>,
                 files: &mut Vec<(String, String)>,
                 steps: &mut Vec<(String, Vec<String>, String)>| {
        if let Some((cmd, args, body)) = current.take() {
            if cmd == "file" {
                let mut text = body.join("\n");
                text.push('\n');
                files.push((args.first().cloned().unwrap_or_default(), text));
            } else {
                steps.push((cmd, args, body.join("\n")));
            }
        }
    };
    for line in text.lines() {
        if let Some(header) = line.strip_prefix("### ") {
            flush(&mut current, &mut files, &mut steps);
            let mut words = header.split_whitespace().map(str::to_string);
            let cmd = words.next().unwrap_or_default();
            current = Some((cmd, words.collect(), Vec::new()));
        } else if let Some((_, _, body)) = current.as_mut() {
            body.push(line);
        }
    }
    flush(&mut current, &mut files, &mut steps);
    Case { files, steps }
}

/// `L:C` (1-based, characters) to an LSP position in `text`.
fn lsp_position(text: &str, at: &str) -> Value {
    let (l, c) = at.split_once(':').expect("position is L:C");
    let line: usize = l.parse::<usize>().expect("line") - 1;
    let col: usize = c.parse::<usize>().expect("column") - 1;
    let line_text = text.lines().nth(line).unwrap_or("");
    let units: usize = line_text.chars().take(col).map(char::len_utf16).sum();
    json!({ "line": line, "character": units })
}

/// An LSP position back to `L:C` (characters), given the file's text.
fn show_position(text: &str, pos: &Value) -> String {
    let line = pos["line"].as_u64().unwrap_or(0) as usize;
    let units = pos["character"].as_u64().unwrap_or(0) as usize;
    let line_text = text.lines().nth(line).unwrap_or("");
    let mut seen = 0;
    let mut chars = 0;
    for c in line_text.chars() {
        if seen >= units {
            break;
        }
        seen += c.len_utf16();
        chars += 1;
    }
    format!("{}:{}", line + 1, chars + 1)
}

struct Harness {
    root: PathBuf,
    cache: PathBuf,
    client: Client,
    /// Texts of open documents (and their versions).
    open: BTreeMap<String, (String, i64)>,
    out: String,
    /// The diagnostics the client shows, by URI.
    latest: BTreeMap<String, Value>,
}

impl Harness {
    fn uri(&self, path: &str) -> String {
        path_uri(&self.root.join(path))
            .expect("uri")
            .as_str()
            .to_string()
    }

    /// A file's current text (open buffer or disk or cache).
    fn text_of_uri(&self, uri: &str) -> (String, String) {
        let file = uri_path(&uri.parse().expect("uri")).expect("file uri");
        let shown = file
            .strip_prefix(&self.root)
            .map(|p| p.display().to_string())
            .or_else(|_| {
                file.strip_prefix(&self.cache)
                    .map(|p| format!("<cache>/{}", p.display().to_string().replace("0.1.0/", "")))
            })
            .unwrap_or_else(|_| file.display().to_string());
        let rel = file
            .strip_prefix(&self.root)
            .ok()
            .map(|p| p.display().to_string());
        let text = rel
            .and_then(|r| self.open.get(&r).map(|(t, _)| t.clone()))
            .unwrap_or_else(|| std::fs::read_to_string(&file).unwrap_or_default());
        (shown, text)
    }

    fn show_range(&self, uri: &str, range: &Value) -> String {
        let (path, text) = self.text_of_uri(uri);
        format!(
            "{path}:{}-{}",
            show_position(&text, &range["start"]),
            show_position(&text, &range["end"])
        )
    }

    fn doc_position(&self, path: &str, at: &str) -> Value {
        let text = self
            .open
            .get(path)
            .map(|(t, _)| t.clone())
            .unwrap_or_else(|| std::fs::read_to_string(self.root.join(path)).unwrap_or_default());
        json!({ "textDocument": { "uri": self.uri(path) }, "position": lsp_position(&text, at) })
    }

    fn step(&mut self, cmd: &str, args: &[String], body: &str) {
        let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
        self.out
            .push_str(&format!("### {cmd} {}\n", args.join(" ")));
        match cmd {
            "open" => {
                let path = arg(0);
                let text = std::fs::read_to_string(self.root.join(&path)).unwrap_or_default();
                self.client
                    .notify(
                        "textDocument/didOpen",
                        json!({ "textDocument": {
                            "uri": self.uri(&path), "languageId": "ev", "version": 1, "text": text
                        }}),
                    )
                    .expect("didOpen");
                self.open.insert(path, (text, 1));
            }
            "change" => {
                let path = arg(0);
                let (start, end) = arg(1)
                    .split_once('-')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .expect("range L:C-L:C");
                let (mut text, version) =
                    self.open.get(&path).cloned().expect("change an open file");
                let s = lsp_position(&text, &start);
                let e = lsp_position(&text, &end);
                let byte = |pos: &Value| {
                    let line = pos["line"].as_u64().unwrap_or(0) as usize;
                    let units = pos["character"].as_u64().unwrap_or(0) as usize;
                    let line_start: usize =
                        text.split_inclusive('\n').take(line).map(str::len).sum();
                    let mut seen = 0;
                    let mut offset = line_start;
                    for c in text[line_start..].chars() {
                        if seen >= units || c == '\n' {
                            break;
                        }
                        seen += c.len_utf16();
                        offset += c.len_utf8();
                    }
                    offset
                };
                let (bs, be) = (byte(&s), byte(&e));
                text.replace_range(bs..be, body);
                let version = version + 1;
                self.client
                    .notify(
                        "textDocument/didChange",
                        json!({
                            "textDocument": { "uri": self.uri(&path), "version": version },
                            "contentChanges": [{ "range": { "start": s, "end": e }, "text": body }]
                        }),
                    )
                    .expect("didChange");
                self.open.insert(path, (text, version));
            }
            "write" => {
                // A file changed on disk (a stage wrote its exports).
                let path = arg(0);
                let file = self.root.join(&path);
                std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
                std::fs::write(&file, format!("{body}\n")).expect("write");
                self.client
                    .notify(
                        "workspace/didChangeWatchedFiles",
                        json!({ "changes": [{ "uri": self.uri(&path), "type": 2 }] }),
                    )
                    .expect("didChangeWatchedFiles");
            }
            "diagnostics" => self.diagnostics(),
            "hover" => {
                let r = self
                    .client
                    .request("textDocument/hover", self.doc_position(&arg(0), &arg(1)));
                match r {
                    Ok(Value::Null) => self.out.push_str("(nothing)\n"),
                    Ok(v) => {
                        let range = self.show_range(&self.uri(&arg(0)), &v["range"]);
                        self.out.push_str(&format!(
                            "range {range}\n{}\n",
                            v["contents"]["value"].as_str().unwrap_or("")
                        ));
                    }
                    Err(e) => self.out.push_str(&format!("error: {e}\n")),
                }
            }
            "definition" => {
                let r = self.client.request(
                    "textDocument/definition",
                    self.doc_position(&arg(0), &arg(1)),
                );
                self.locations(r);
            }
            "references" => {
                let mut params = self.doc_position(&arg(0), &arg(1));
                params["context"] = json!({ "includeDeclaration": arg(2) != "no-declaration" });
                let r = self.client.request("textDocument/references", params);
                self.locations(r);
            }
            "completion" => {
                let r = self.client.request(
                    "textDocument/completion",
                    self.doc_position(&arg(0), &arg(1)),
                );
                match r {
                    Ok(v) => {
                        let mut items: Vec<Value> = v.as_array().cloned().unwrap_or_default();
                        items.sort_by_key(|i| {
                            (
                                i["sortText"].as_str().unwrap_or("").to_string(),
                                i["label"].as_str().unwrap_or("").to_string(),
                            )
                        });
                        let limit = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(12);
                        for i in items.iter().take(limit) {
                            let edit = &i["textEdit"];
                            let range = self.show_range(&self.uri(&arg(0)), &edit["range"]);
                            self.out.push_str(&format!(
                                "{} [{}] {} -> {:?} at {range}\n",
                                i["label"].as_str().unwrap_or(""),
                                i["kind"],
                                i["detail"].as_str().unwrap_or(""),
                                edit["newText"].as_str().unwrap_or(""),
                            ));
                        }
                        if items.len() > limit {
                            self.out
                                .push_str(&format!("({} more)\n", items.len() - limit));
                        }
                        if let Some(doc) = items
                            .first()
                            .and_then(|i| i["documentation"]["value"].as_str())
                        {
                            self.out
                                .push_str(&format!("first item's documentation:\n{doc}\n"));
                        }
                    }
                    Err(e) => self.out.push_str(&format!("error: {e}\n")),
                }
            }
            "signature" => {
                match self.client.request(
                    "textDocument/signatureHelp",
                    self.doc_position(&arg(0), &arg(1)),
                ) {
                    Ok(Value::Null) => self.out.push_str("(nothing)\n"),
                    Ok(v) => {
                        let sig = &v["signatures"][0];
                        let active = v["activeParameter"].as_u64().unwrap_or(0) as usize;
                        let param = sig["parameters"][active]["label"].as_str().unwrap_or("");
                        self.out.push_str(&format!(
                            "{}\nactive: {param}\n{}\n",
                            sig["label"].as_str().unwrap_or(""),
                            sig["documentation"]["value"].as_str().unwrap_or("")
                        ));
                    }
                    Err(e) => self.out.push_str(&format!("error: {e}\n")),
                }
            }
            "code-actions" => {
                let mut params = self.doc_position(&arg(0), &arg(1));
                let pos = params["position"].clone();
                params["range"] = json!({ "start": pos, "end": pos });
                params["context"] = json!({ "diagnostics": [] });
                match self.client.request("textDocument/codeAction", params) {
                    Ok(v) => {
                        let actions = v.as_array().cloned().unwrap_or_default();
                        if actions.is_empty() {
                            self.out.push_str("(nothing)\n");
                        }
                        for a in actions {
                            self.out.push_str(&format!(
                                "{} [{}{}] for {}\n",
                                a["title"].as_str().unwrap_or(""),
                                a["kind"].as_str().unwrap_or(""),
                                if a["isPreferred"] == true {
                                    ", preferred"
                                } else {
                                    ""
                                },
                                a["diagnostics"][0]["code"].as_str().unwrap_or("")
                            ));
                            for (uri, edits) in a["edit"]["changes"]
                                .as_object()
                                .cloned()
                                .unwrap_or_default()
                            {
                                for e in edits.as_array().cloned().unwrap_or_default() {
                                    let at = self.show_range(&uri, &e["range"]);
                                    self.out.push_str(&format!(
                                        "  {at} -> {:?}\n",
                                        e["newText"].as_str().unwrap_or("")
                                    ));
                                }
                            }
                        }
                    }
                    Err(e) => self.out.push_str(&format!("error: {e}\n")),
                }
            }
            "prepare-rename" => {
                let r = self.client.request(
                    "textDocument/prepareRename",
                    self.doc_position(&arg(0), &arg(1)),
                );
                match r {
                    Ok(v) => {
                        let range = self.show_range(&self.uri(&arg(0)), &v);
                        self.out.push_str(&format!("{range}\n"));
                    }
                    Err(e) => self.out.push_str(&format!("error: {e}\n")),
                }
            }
            "rename" => {
                let mut params = self.doc_position(&arg(0), &arg(1));
                params["newName"] = json!(arg(2));
                match self.client.request("textDocument/rename", params) {
                    Ok(v) => {
                        let mut lines = Vec::new();
                        let show = |uri: &str, e: &Value| {
                            let offered = e["annotationId"]
                                .as_str()
                                .and_then(|id| v["changeAnnotations"][id]["label"].as_str())
                                .map(|label| format!("  (offered, to confirm: {label})"))
                                .unwrap_or_default();
                            format!(
                                "{} -> {:?}{offered}",
                                self.show_range(uri, &e["range"]),
                                e["newText"].as_str().unwrap_or("")
                            )
                        };
                        for (uri, edits) in v["changes"].as_object().cloned().unwrap_or_default() {
                            for e in edits.as_array().cloned().unwrap_or_default() {
                                lines.push(show(&uri, &e));
                            }
                        }
                        for doc in v["documentChanges"].as_array().cloned().unwrap_or_default() {
                            let uri = doc["textDocument"]["uri"]
                                .as_str()
                                .unwrap_or("")
                                .to_string();
                            for e in doc["edits"].as_array().cloned().unwrap_or_default() {
                                lines.push(show(&uri, &e));
                            }
                        }
                        lines.sort();
                        for l in lines {
                            self.out.push_str(&format!("{l}\n"));
                        }
                    }
                    Err(e) => self.out.push_str(&format!("error: {e}\n")),
                }
            }
            "format" => {
                let r = self.client.request(
                    "textDocument/formatting",
                    json!({ "textDocument": { "uri": self.uri(&arg(0)) }, "options": { "tabSize": 2, "insertSpaces": true } }),
                );
                match r {
                    Ok(v) => match v.as_array().and_then(|a| a.first()) {
                        Some(edit) => self
                            .out
                            .push_str(&format!("{}\n", edit["newText"].as_str().unwrap_or(""))),
                        None => self.out.push_str("(already formatted)\n"),
                    },
                    Err(e) => self.out.push_str(&format!("error: {e}\n")),
                }
            }
            "symbols" => {
                let r = self.client.request(
                    "textDocument/documentSymbol",
                    json!({ "textDocument": { "uri": self.uri(&arg(0)) } }),
                );
                let uri = self.uri(&arg(0));
                match r {
                    Ok(v) => self.symbols(&uri, &v, 0),
                    Err(e) => self.out.push_str(&format!("error: {e}\n")),
                }
            }
            "workspace-symbols" => {
                let r = self
                    .client
                    .request("workspace/symbol", json!({ "query": arg(0) }));
                match r {
                    Ok(v) => {
                        for s in v.as_array().cloned().unwrap_or_default() {
                            let at = self.show_range(
                                s["location"]["uri"].as_str().unwrap_or(""),
                                &s["location"]["range"],
                            );
                            self.out.push_str(&format!(
                                "{} [{}] {} at {at}\n",
                                s["name"].as_str().unwrap_or(""),
                                s["kind"],
                                s["containerName"].as_str().unwrap_or("")
                            ));
                        }
                    }
                    Err(e) => self.out.push_str(&format!("error: {e}\n")),
                }
            }
            other => panic!("unknown step `{other}`"),
        }
    }

    fn symbols(&mut self, uri: &str, v: &Value, depth: usize) {
        for s in v.as_array().cloned().unwrap_or_default() {
            let at = self.show_range(uri, &s["selectionRange"]);
            self.out.push_str(&format!(
                "{}{} [{}] {} at {at}\n",
                "  ".repeat(depth),
                s["name"].as_str().unwrap_or(""),
                s["kind"],
                s["detail"].as_str().unwrap_or("")
            ));
            self.symbols(uri, &s["children"], depth + 1);
        }
    }

    fn locations(&mut self, r: Result<Value, String>) {
        match r {
            Ok(Value::Null) => self.out.push_str("(nothing)\n"),
            Ok(v) => {
                let list = v.as_array().cloned().unwrap_or_else(|| vec![v.clone()]);
                if list.is_empty() {
                    self.out.push_str("(nothing)\n");
                }
                for l in list {
                    let uri = l["uri"].as_str().unwrap_or("").to_string();
                    let at = self.show_range(&uri, &l["range"]);
                    let (_, text) = self.text_of_uri(&uri);
                    let line = l["range"]["start"]["line"].as_u64().unwrap_or(0) as usize;
                    self.out.push_str(&format!(
                        "{at}  {}\n",
                        text.lines().nth(line).unwrap_or("").trim()
                    ));
                }
            }
            Err(e) => self.out.push_str(&format!("error: {e}\n")),
        }
    }

    /// Waits for the diagnostics of the current versions and prints every
    /// file's latest set (as an editor would show them).
    fn diagnostics(&mut self) {
        let wanted: BTreeMap<String, i64> = self
            .open
            .iter()
            .map(|(p, (_, v))| (self.uri(p), *v))
            .collect();
        let accept = |m: &Value| {
            if m["method"] != "textDocument/publishDiagnostics" {
                return false;
            }
            let p = &m["params"];
            match wanted.get(p["uri"].as_str().unwrap_or("")) {
                Some(v) => p["version"].as_i64() == Some(*v),
                None => wanted.is_empty(),
            }
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !self.client.notifications.iter().any(accept) {
            assert!(
                std::time::Instant::now() < deadline,
                "no diagnostics for the current versions"
            );
            self.client.drain(Duration::from_millis(20));
        }
        // The rest of the batch follows at once.
        self.client.drain(Duration::from_millis(200));
        for m in self.client.notifications.drain(..) {
            if m["method"] == "textDocument/publishDiagnostics" {
                self.latest.insert(
                    m["params"]["uri"].as_str().unwrap_or("").to_string(),
                    m["params"].clone(),
                );
            }
        }
        let all: Vec<(String, Value)> = self
            .latest
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut printed = false;
        for (uri, params) in all {
            for d in params["diagnostics"]
                .as_array()
                .cloned()
                .unwrap_or_default()
            {
                printed = true;
                let at = self.show_range(&uri, &d["range"]);
                let href = d["codeDescription"]["href"].as_str().unwrap_or("");
                let page = href.rsplit('/').next().unwrap_or("");
                self.out.push_str(&format!(
                    "{at} {} [{}] {}\n",
                    d["code"].as_str().unwrap_or(""),
                    page,
                    d["message"].as_str().unwrap_or("").replace('\n', "\n    ")
                ));
                for r in d["relatedInformation"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                {
                    let at = self.show_range(
                        r["location"]["uri"].as_str().unwrap_or(""),
                        &r["location"]["range"],
                    );
                    self.out.push_str(&format!(
                        "    related {at}: {}\n",
                        r["message"].as_str().unwrap_or("")
                    ));
                }
            }
        }
        if !printed {
            self.out.push_str("(no diagnostics)\n");
        }
    }
}

fn ev_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ev"))
}

fn run_case(path: &Path) -> String {
    let case = parse_case(&std::fs::read_to_string(path).expect("read case"));
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("repo");
    let cache = dir.path().join("cache");
    for (file, text) in &case.files {
        let p = root.join(file);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    std::fs::create_dir_all(&root).expect("mkdir root");
    // A repository, as where people edit: no W0601 about machines outside
    // git in every case (the CLI's tests cover it).
    std::fs::create_dir_all(root.join(".git")).expect("mkdir .git");
    std::fs::write(root.join(".git/HEAD"), "ref: refs/heads/main\n").expect("write HEAD");
    let client = Client::start(&ev_binary(), &["lsp"], &root, &cache).expect("start ev lsp");
    let mut h = Harness {
        root,
        cache: cache.join("ev"),
        client,
        open: BTreeMap::new(),
        out: String::new(),
        latest: BTreeMap::new(),
    };
    for (cmd, args, body) in &case.steps {
        h.step(cmd, args, body);
    }
    let status = h.client.shutdown().expect("shutdown");
    assert!(status.success(), "ev lsp exited with {status}");
    h.out
}

#[test]
fn lsp_cases() {
    insta::glob!("lsp/*.lsp", |path| {
        let transcript = run_case(path);
        insta::assert_snapshot!(transcript);
    });
}

/// A diagnostic's code and range: 1-based lines and character columns.
type Located = (String, String, usize, usize, usize, usize);

/// The language server reports exactly what `ev check` reports (codes and
/// ranges, columns converted from UTF-16) for every golden error case.
#[test]
fn lsp_and_check_report_the_same_ranges() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ev-deploy/tests/golden");
    let mut cases = Vec::new();
    for group in std::fs::read_dir(&golden).expect("golden").flatten() {
        for case in std::fs::read_dir(group.path()).expect("group").flatten() {
            let text = std::fs::read_to_string(case.path()).unwrap_or_default();
            // Cases with their own limits have no counterpart on the
            // command line.
            if text.starts_with("# expect: error")
                && !text.contains("# steps:")
                && !text.contains("# time-ms:")
            {
                cases.push((case.path(), text));
            }
        }
    }
    cases.sort();
    assert!(cases.len() > 30, "{} cases", cases.len());
    // Two at a time: most of a case is waiting for the server.
    let (odd, even): (Vec<_>, Vec<_>) = cases.iter().enumerate().partition(|(i, _)| i % 2 == 1);
    std::thread::scope(|scope| {
        for half in [odd, even] {
            scope.spawn(move || {
                for (_, (path, text)) in half {
                    compare_with_check(path, text);
                }
            });
        }
    });
}

fn compare_with_check(path: &Path, text: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("repo");
    let mut files = vec![("everything.ev".to_string(), String::new())];
    for line in text.lines() {
        match line.strip_prefix("--- ") {
            Some(p) => files.push((p.trim().to_string(), String::new())),
            None => {
                if let Some((_, body)) = files.last_mut() {
                    body.push_str(line);
                    body.push('\n');
                }
            }
        }
    }
    for (file, body) in &files {
        let p = root.join(file);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, body).expect("write");
    }
    // A case evaluated in another environment: both faces get `-e`.
    let environment: Vec<&str> = text
        .lines()
        .take_while(|l| l.starts_with('#'))
        .find_map(|l| l.strip_prefix("# environment:"))
        .map(|e| vec!["-e", e.trim()])
        .unwrap_or_default();
    let out = std::process::Command::new(ev_binary())
        .args(["--message-format", "json"])
        .args(&environment)
        .arg("check")
        .current_dir(&root)
        .output()
        .expect("ev check");
    let mut expected: Vec<Located> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&out.stderr).lines())
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|d| {
            let s = &d["span"];
            let n = |k: &str| s[k].as_u64().unwrap_or(0) as usize;
            (
                d["code"].as_str().unwrap_or("").to_string(),
                s["file"].as_str().unwrap_or("").to_string(),
                n("line_start"),
                n("column_start"),
                n("line_end"),
                n("column_end"),
            )
        })
        .collect();
    let lsp: Vec<&str> = environment.iter().copied().chain(["lsp"]).collect();
    let mut client =
        Client::start(&ev_binary(), &lsp, &root, &dir.path().join("cache")).expect("ev lsp");
    client
        .wait_diagnostics(Duration::from_secs(60), &|_| true)
        .map(|first| {
            client
                .notifications
                .push_back(json!({ "method": "textDocument/publishDiagnostics", "params": first }))
        })
        .expect("diagnostics");
    client.drain(Duration::from_millis(100));
    let mut found: Vec<Located> = Vec::new();
    for m in client.notifications.drain(..) {
        let params = &m["params"];
        let Some(file) = params["uri"]
            .as_str()
            .and_then(|u| uri_path(&u.parse().ok()?))
        else {
            continue;
        };
        // A standard library file is served from the cache, as `stdlib/...`.
        let cache = dir.path().join("cache");
        let rel = file
            .strip_prefix(&root)
            .map(|p| p.display().to_string())
            .or_else(|_| {
                let inside = file.strip_prefix(&cache)?;
                let at = inside
                    .components()
                    .position(|c| c.as_os_str() == "stdlib")
                    .unwrap_or(0);
                Ok::<_, std::path::StripPrefixError>(
                    inside
                        .components()
                        .skip(at)
                        .collect::<std::path::PathBuf>()
                        .display()
                        .to_string(),
                )
            })
            .unwrap_or_default();
        let body = std::fs::read_to_string(&file).unwrap_or_default();
        for d in params["diagnostics"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let start = show_position(&body, &d["range"]["start"]);
            let end = show_position(&body, &d["range"]["end"]);
            let split = |p: &str| {
                let (l, c) = p.split_once(':').unwrap_or(("0", "0"));
                (l.parse().unwrap_or(0), c.parse().unwrap_or(0))
            };
            let ((ls, cs), (le, ce)) = (split(&start), split(&end));
            found.push((
                d["code"].as_str().unwrap_or("").to_string(),
                rel.clone(),
                ls,
                cs,
                le,
                ce,
            ));
        }
    }
    let _ = client.shutdown();
    expected.sort();
    expected.dedup();
    found.sort();
    found.dedup();
    assert_eq!(found, expected, "{}", path.display());
}

/// Odd requests get answers (results or errors), never a dead server:
/// positions past the end, URIs outside the repository, bad parameters,
/// unknown methods, changes to files never opened.
#[test]
fn lsp_survives_odd_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("repo");
    std::fs::create_dir_all(&root).expect("mkdir");
    std::fs::write(root.join("everything.ev"), "let a = 1\n").expect("write");
    let mut client =
        Client::start(&ev_binary(), &["lsp"], &root, &dir.path().join("cache")).expect("ev lsp");
    let uri = path_uri(&root.join("everything.ev"))
        .expect("uri")
        .as_str()
        .to_string();
    let far =
        json!({ "textDocument": { "uri": uri }, "position": { "line": 9999, "character": 9999 } });
    for method in [
        "textDocument/hover",
        "textDocument/definition",
        "textDocument/completion",
        "textDocument/prepareRename",
    ] {
        let _ = client.request(method, far.clone());
    }
    let outside = json!({ "textDocument": { "uri": "file:///etc/passwd" }, "position": { "line": 0, "character": 0 } });
    assert!(client.request("textDocument/hover", outside).is_err());
    assert!(client
        .request("textDocument/hover", json!({ "nonsense": true }))
        .is_err());
    assert!(client.request("ev/unknown", json!({})).is_err());
    client
        .notify(
            "textDocument/didChange",
            json!({
                "textDocument": { "uri": uri, "version": 7 },
                "contentChanges": [{ "range": { "start": { "line": 50, "character": 0 }, "end": { "line": 0, "character": 0 } }, "text": "x" }]
            }),
        )
        .expect("odd change");
    client
        .notify("textDocument/didOpen", json!({ "bogus": 1 }))
        .expect("bad open");
    // Still alive and answering.
    let symbols = client
        .request(
            "textDocument/documentSymbol",
            json!({ "textDocument": { "uri": uri } }),
        )
        .expect("symbols");
    assert_eq!(symbols[0]["name"], "a");
    assert!(client.shutdown().expect("shutdown").success());
}

/// The server's peak resident memory in MiB (Linux), if known.
fn peak_mib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

/// A hostile client: malformed frames are answered with JSON-RPC errors
/// and the server stays up; a body over the frame limit is skipped, never
/// held in memory.
#[test]
fn lsp_answers_malformed_frames_and_stays_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("repo");
    std::fs::create_dir_all(&root).expect("mkdir");
    std::fs::write(root.join("everything.ev"), "let a = 1\n").expect("write");
    let mut client =
        Client::start(&ev_binary(), &["lsp"], &root, &dir.path().join("cache")).expect("ev lsp");
    let uri = path_uri(&root.join("everything.ev"))
        .expect("uri")
        .as_str()
        .to_string();
    let framed = |body: &str| format!("Content-Length: {}\r\n\r\n{body}", body.len());
    let cases: Vec<(Vec<u8>, i64)> = vec![
        (framed("{not json").into_bytes(), -32700),
        (framed("[1, 2]").into_bytes(), -32600),
        (
            framed(r#"{"jsonrpc":"2.0","id":3,"method":7}"#).into_bytes(),
            -32600,
        ),
        (b"Content-Length: many\r\n\r\n".to_vec(), -32700),
        (b"no header here\r\n\r\n".to_vec(), -32700),
        (framed("\u{1b}[2J\u{0}\u{7}").into_bytes(), -32700),
    ];
    for (bytes, code) in cases {
        client.send_raw(&bytes).expect("send");
        let answer = client
            .next_unsolicited(Duration::from_secs(30))
            .expect("an error response");
        assert_eq!(answer["error"]["code"], code, "{answer}");
    }
    // A body larger than the limit, really sent: skipped in pieces.
    let big = ev_lsp::transport::MAX_FRAME + 1;
    let mut bytes = format!("Content-Length: {big}\r\n\r\n").into_bytes();
    bytes.resize(bytes.len() + big, b' ');
    client.send_raw(&bytes).expect("send big");
    drop(bytes);
    let answer = client
        .next_unsolicited(Duration::from_secs(60))
        .expect("an error response");
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("larger than the limit")),
        "{answer}"
    );
    if let Some(peak) = peak_mib(client.pid()) {
        assert!(peak < 64, "the server held the body: peak {peak} MiB");
    }
    let symbols = client
        .request(
            "textDocument/documentSymbol",
            json!({ "textDocument": { "uri": uri } }),
        )
        .expect("still answering");
    assert_eq!(symbols[0]["name"], "a");
    assert!(client.shutdown().expect("shutdown").success());
}

/// Hostile programs in the editor end in coded diagnostics within seconds
/// (the same limits as the command line), and the server keeps answering.
#[test]
fn lsp_hostile_programs_end_in_coded_diagnostics() {
    let program = "\
let r = { a = r }
export cyclic = to_json(r)
let double = fn(s, n) => if n == 0 then s else double(s + s, n - 1)
export big = len(double(\"ab\", 60))
let f = fn(n, d = f(n)) => d
export through_default = f(1)
let fib = fn(n) => if n < 2 then n else fib(n - 1) + fib(n - 2)
export slow = fib(45)
export after = fib(46)
";
    let codes = |params: &Value| -> Vec<String> {
        params["diagnostics"]
            .as_array()
            .map(|ds| {
                ds.iter()
                    .filter_map(|d| d["code"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("repo");
    std::fs::create_dir_all(&root).expect("mkdir");
    std::fs::write(root.join("everything.ev"), program).expect("write");
    let mut client =
        Client::start(&ev_binary(), &["lsp"], &root, &dir.path().join("cache")).expect("ev lsp");
    let uri = path_uri(&root.join("everything.ev"))
        .expect("uri")
        .as_str()
        .to_string();
    let started = std::time::Instant::now();
    client
        .notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": "ev", "version": 1, "text": program } }),
        )
        .expect("open");
    let params = client
        .wait_diagnostics(Duration::from_secs(60), &|p| {
            p["uri"] == json!(uri) && !codes(p).is_empty()
        })
        .expect("diagnostics");
    let found = codes(&params);
    // fib(45) ends at the step limit (E0413), or, on a loaded machine,
    // at the request's wall-time limit first (E0420): both are the
    // coded end this test asks for.
    assert_eq!(found[..3], ["E0405", "E0419", "E0406"], "{params}");
    assert!(
        found.len() == 4 && ["E0413", "E0420"].contains(&found[3].as_str()),
        "{params}"
    );
    assert!(
        params
            .to_string()
            .contains("1 more value could not be evaluated after this"),
        "{params}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    let symbols = client
        .request(
            "textDocument/documentSymbol",
            json!({ "textDocument": { "uri": uri } }),
        )
        .expect("still answering");
    assert!(symbols.as_array().is_some_and(|s| !s.is_empty()));
    assert!(client.shutdown().expect("shutdown").success());

    // Without a step limit the request's time limit still ends it (E0420).
    let slow =
        "let fib = fn(n) => if n < 2 then n else fib(n - 1) + fib(n - 2)\nexport slow = fib(60)\n";
    std::fs::write(root.join("everything.ev"), slow).expect("write");
    let mut client = Client::start(
        &ev_binary(),
        &["--max-steps", "1000000000000", "lsp"],
        &root,
        &dir.path().join("cache"),
    )
    .expect("ev lsp");
    let started = std::time::Instant::now();
    client
        .notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": "ev", "version": 1, "text": slow } }),
        )
        .expect("open");
    let params = client
        .wait_diagnostics(Duration::from_secs(60), &|p| {
            p["uri"] == json!(uri) && !codes(p).is_empty()
        })
        .expect("diagnostics");
    assert_eq!(codes(&params), vec!["E0420".to_string()], "{params}");
    let took = started.elapsed();
    assert!(
        took >= ev_lsp::REQUEST_TIME_LIMIT && took < ev_lsp::REQUEST_TIME_LIMIT * 4,
        "took {took:?}"
    );
    assert!(client.shutdown().expect("shutdown").success());
}
