//! `ev lsp`: the language server, a thin face over [`ev_query::ide`].
//!
//! One thread owns the [`World`] and answers every message in order; a
//! reader thread forwards messages and raises a flag when input is
//! waiting. Diagnostics run after a short quiet period (debounce) and are
//! abandoned as soon as the flag rises (the evaluator checks it), then
//! redone after the new input is handled: stale work never delays a
//! keystroke, and modules already checked stay cached.

pub mod client;
pub mod convert;
pub mod transport;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use ev_query::ide::World;
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types as lsp;
use lsp_types::notification::Notification as _;
use lsp_types::request::Request as _;
use serde_json::Value as Json;

pub use convert::Files;

/// How long the server waits after a change before checking.
const DEBOUNCE: Duration = Duration::from_millis(20);

/// The longest one request may evaluate (diagnostics, hover, completion):
/// the evaluator stops with E0420 after it, so no program stalls the editor.
pub const REQUEST_TIME_LIMIT: Duration = Duration::from_secs(5);

/// Options for a server run.
pub struct Options {
    /// The repository root when the client names none.
    pub root: PathBuf,
    /// The entry file, relative to the root.
    pub entry: String,
    /// Where embedded files (stdlib, diagnostic pages) are written for editors.
    pub cache: PathBuf,
    /// The environment programs are evaluated in (`ev -e NAME lsp`).
    pub environment: Option<String>,
}

/// Serves LSP over stdin/stdout until the client exits.
pub fn run_stdio(options: Options) -> Result<(), String> {
    let (connection, io) = transport::stdio();
    serve(connection, options)?;
    io.join().map_err(|e| e.to_string())
}

/// Serves LSP on a connection until the client exits.
pub fn serve(connection: Connection, options: Options) -> Result<(), String> {
    let capabilities = serde_json::to_value(capabilities()).map_err(|e| e.to_string())?;
    let params = connection
        .initialize(capabilities)
        .map_err(|e| e.to_string())?;
    let params: lsp::InitializeParams =
        serde_json::from_value(params).map_err(|e| e.to_string())?;
    let root = root_of(&params).unwrap_or(options.root);
    let entry = params
        .initialization_options
        .as_ref()
        .and_then(|o| o.get("entry"))
        .and_then(Json::as_str)
        .map(str::to_string)
        .unwrap_or(options.entry);
    // Offered edits are marked for confirmation where the client can ask.
    let annotations = params
        .capabilities
        .workspace
        .as_ref()
        .and_then(|w| w.workspace_edit.as_ref())
        .is_some_and(|e| e.document_changes == Some(true) && e.change_annotation_support.is_some());
    let files = Files::new(root.clone(), options.cache);
    let environment = options.environment;
    // Evaluation recurses deeply: the world lives on a thread with the
    // evaluator's stack (deep programs end in the recursion-limit diagnostic).
    let Connection { sender, receiver } = connection;
    let pending = Arc::new(AtomicBool::new(false));
    let (tx, rx) = crossbeam_channel::unbounded();
    let flag = pending.clone();
    let reader = std::thread::spawn(move || {
        for msg in receiver {
            flag.store(true, Ordering::SeqCst);
            if tx.send(msg).is_err() {
                break;
            }
        }
    });
    let worker = std::thread::Builder::new()
        .stack_size(ev_core::eval::STACK_SIZE)
        .spawn(move || {
            let mut server = Server {
                world: World::new(root, &entry).in_environment(environment),
                files,
                sender,
                pending,
                versions: BTreeMap::new(),
                annotations,
                published: BTreeSet::new(),
                dirty_since: Some(Instant::now()),
            };
            server.main_loop(rx)
        })
        .map_err(|e| e.to_string())?;
    let result = worker
        .join()
        .map_err(|_| "the server thread panicked".to_string())?;
    drop(reader);
    result
}

fn root_of(params: &lsp::InitializeParams) -> Option<PathBuf> {
    if let Some(folder) = params.workspace_folders.as_ref().and_then(|f| f.first()) {
        return convert::uri_path(&folder.uri);
    }
    #[allow(deprecated)] // older clients send only rootUri
    params.root_uri.as_ref().and_then(convert::uri_path)
}

/// What the server offers.
pub fn capabilities() -> lsp::ServerCapabilities {
    lsp::ServerCapabilities {
        text_document_sync: Some(lsp::TextDocumentSyncCapability::Options(
            lsp::TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(lsp::TextDocumentSyncKind::INCREMENTAL),
                ..Default::default()
            },
        )),
        hover_provider: Some(lsp::HoverProviderCapability::Simple(true)),
        definition_provider: Some(lsp::OneOf::Left(true)),
        references_provider: Some(lsp::OneOf::Left(true)),
        document_symbol_provider: Some(lsp::OneOf::Left(true)),
        workspace_symbol_provider: Some(lsp::OneOf::Left(true)),
        completion_provider: Some(lsp::CompletionOptions {
            trigger_characters: Some(vec![".".into(), "\"".into(), "/".into()]),
            ..Default::default()
        }),
        rename_provider: Some(lsp::OneOf::Right(lsp::RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: Default::default(),
        })),
        document_formatting_provider: Some(lsp::OneOf::Left(true)),
        signature_help_provider: Some(lsp::SignatureHelpOptions {
            trigger_characters: Some(vec!["(".into(), ",".into()]),
            retrigger_characters: None,
            work_done_progress_options: Default::default(),
        }),
        code_action_provider: Some(lsp::CodeActionProviderCapability::Options(
            lsp::CodeActionOptions {
                code_action_kinds: Some(vec![lsp::CodeActionKind::QUICKFIX]),
                ..Default::default()
            },
        )),
        ..Default::default()
    }
}

struct Server {
    world: World,
    files: Files,
    sender: crossbeam_channel::Sender<Message>,
    /// Raised by the reader thread when a message is waiting.
    pending: Arc<AtomicBool>,
    /// Open documents' versions.
    versions: BTreeMap<String, i32>,
    /// The client asks the user to confirm annotated edits
    /// (`changeAnnotationSupport` with `documentChanges`).
    annotations: bool,
    /// Files that have diagnostics on the client.
    published: BTreeSet<String>,
    /// Diagnostics are out of date since this instant.
    dirty_since: Option<Instant>,
}

/// A request handler's failure: an LSP error code and message.
type Failure = (ErrorCode, String);

impl Server {
    fn main_loop(&mut self, rx: Receiver<Message>) -> Result<(), String> {
        loop {
            let msg = match self.dirty_since {
                Some(since) => {
                    let wait = (since + DEBOUNCE).saturating_duration_since(Instant::now());
                    match rx.recv_timeout(wait) {
                        Ok(msg) => msg,
                        Err(RecvTimeoutError::Timeout) => {
                            if rx.is_empty() {
                                self.pending.store(false, Ordering::SeqCst);
                                self.publish_diagnostics();
                            }
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => return Ok(()),
                    }
                }
                None => match rx.recv() {
                    Ok(msg) => msg,
                    Err(_) => return Ok(()),
                },
            };
            if rx.is_empty() {
                self.pending.store(false, Ordering::SeqCst);
            }
            match msg {
                Message::Request(req) => {
                    if req.method == lsp::request::Shutdown::METHOD {
                        self.send(Response::new_ok(req.id, Json::Null));
                        continue;
                    }
                    self.handle_request(req);
                }
                Message::Notification(n) => {
                    if n.method == lsp::notification::Exit::METHOD {
                        return Ok(());
                    }
                    self.handle_notification(n);
                }
                Message::Response(_) => {}
            }
        }
    }

    fn send(&self, msg: impl Into<Message>) {
        // A closed channel means the client is gone; the loop ends on its own.
        let _ = self.sender.send(msg.into());
    }

    fn handle_notification(&mut self, n: Notification) {
        use lsp::notification as note;
        match n.method.as_str() {
            note::DidOpenTextDocument::METHOD => {
                if let Ok(p) = serde_json::from_value::<lsp::DidOpenTextDocumentParams>(n.params) {
                    if let Some(path) = self.files.path(&p.text_document.uri) {
                        self.versions.insert(path.clone(), p.text_document.version);
                        self.world.set_buffer(&path, p.text_document.text);
                        self.changed();
                    }
                }
            }
            note::DidChangeTextDocument::METHOD => {
                if let Ok(p) = serde_json::from_value::<lsp::DidChangeTextDocumentParams>(n.params)
                {
                    if let Some(path) = self.files.path(&p.text_document.uri) {
                        let mut text = self
                            .world
                            .text(&path)
                            .map(|t| t.to_string())
                            .unwrap_or_default();
                        for change in p.content_changes {
                            match change.range {
                                Some(r) => {
                                    let start = convert::offset(&text, r.start) as usize;
                                    let end = convert::offset(&text, r.end) as usize;
                                    if start <= end && end <= text.len() {
                                        text.replace_range(start..end, &change.text);
                                    }
                                }
                                None => text = change.text,
                            }
                        }
                        self.versions.insert(path.clone(), p.text_document.version);
                        self.world.set_buffer(&path, text);
                        self.changed();
                    }
                }
            }
            note::DidCloseTextDocument::METHOD => {
                if let Ok(p) = serde_json::from_value::<lsp::DidCloseTextDocumentParams>(n.params) {
                    if let Some(path) = self.files.path(&p.text_document.uri) {
                        self.versions.remove(&path);
                        self.world.close_buffer(&path);
                        self.changed();
                    }
                }
            }
            note::DidChangeWatchedFiles::METHOD => {
                if let Ok(p) = serde_json::from_value::<lsp::DidChangeWatchedFilesParams>(n.params)
                {
                    let only_sources = p.changes.iter().all(|c| c.uri.as_str().ends_with(".ev"));
                    if only_sources {
                        self.world.sources_changed();
                    } else {
                        self.world.disk_changed();
                    }
                    self.changed();
                }
            }
            _ => {}
        }
    }

    fn changed(&mut self) {
        self.dirty_since = Some(Instant::now());
    }

    fn publish_diagnostics(&mut self) {
        let pending = self.pending.clone();
        let world = &mut self.world;
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| world.diagnostics(pending)));
        let found = match result {
            Ok(Ok(found)) => found,
            // Newer input: handle it, then start again (debounced).
            Ok(Err(ev_query::ide::Interrupted)) => return,
            Err(_) => {
                // A bug: publish nothing new rather than loop on it.
                self.world.disk_changed();
                self.dirty_since = None;
                return;
            }
        };
        self.dirty_since = None;
        let mut by_file: BTreeMap<String, Vec<lsp::Diagnostic>> = BTreeMap::new();
        for path in self.world.buffers() {
            by_file.entry(path).or_default();
        }
        let world = &self.world;
        let text_of = |p: &str| world.text(p);
        for d in &found {
            if let Some(diag) = convert::diagnostic(&self.files, d, &text_of) {
                by_file
                    .entry(d.primary.path.clone())
                    .or_default()
                    .push(diag);
            }
        }
        let stale: Vec<String> = self
            .published
            .iter()
            .filter(|p| !by_file.contains_key(*p))
            .cloned()
            .collect();
        for path in stale {
            by_file.insert(path, Vec::new());
        }
        let mut published = BTreeSet::new();
        for (path, diagnostics) in by_file {
            let Some(uri) = self.files.uri(&path) else {
                continue;
            };
            if !diagnostics.is_empty() {
                published.insert(path.clone());
            }
            let params = lsp::PublishDiagnosticsParams {
                uri,
                diagnostics,
                version: self.versions.get(&path).copied(),
            };
            self.send(Notification::new(
                lsp::notification::PublishDiagnostics::METHOD.to_string(),
                params,
            ));
        }
        self.published = published;
    }

    fn handle_request(&mut self, req: Request) {
        let id = req.id.clone();
        let method = req.method.clone();
        // A bug in one query must not take the editor's server down: answer
        // with an error and start from a fresh load.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.dispatch(req)))
            .unwrap_or_else(|_| {
                self.world.disk_changed();
                Err((
                    ErrorCode::InternalError,
                    format!("ev lsp failed while answering `{method}`; please report this"),
                ))
            });
        let response = match result {
            Ok(value) => Response::new_ok(id, value),
            Err((code, message)) => Response::new_err(id, code as i32, message),
        };
        self.send(response);
    }

    fn dispatch(&mut self, req: Request) -> Result<Json, Failure> {
        use lsp::request as r;
        match req.method.as_str() {
            r::HoverRequest::METHOD => self.on(req, Self::hover),
            r::GotoDefinition::METHOD => self.on(req, Self::definition),
            r::References::METHOD => self.on(req, Self::references),
            r::DocumentSymbolRequest::METHOD => self.on(req, Self::document_symbols),
            r::WorkspaceSymbolRequest::METHOD => self.on(req, Self::workspace_symbols),
            r::Completion::METHOD => self.on(req, Self::completion),
            r::PrepareRenameRequest::METHOD => self.on(req, Self::prepare_rename),
            r::Rename::METHOD => self.on(req, Self::rename),
            r::Formatting::METHOD => self.on(req, Self::formatting),
            r::CodeActionRequest::METHOD => self.on(req, Self::code_actions),
            r::SignatureHelpRequest::METHOD => self.on(req, Self::signature_help),
            other => Err((
                ErrorCode::MethodNotFound,
                format!("`{other}` is not supported"),
            )),
        }
    }

    fn on<P: serde::de::DeserializeOwned, R: serde::Serialize>(
        &mut self,
        req: Request,
        handler: fn(&mut Self, P) -> Result<R, Failure>,
    ) -> Result<Json, Failure> {
        let params: P = serde_json::from_value(req.params)
            .map_err(|e| (ErrorCode::InvalidParams, e.to_string()))?;
        let result = handler(self, params)?;
        serde_json::to_value(result).map_err(|e| (ErrorCode::InternalError, e.to_string()))
    }

    /// The repository path and byte offset of a document position.
    fn at(
        &self,
        doc: &lsp::TextDocumentPositionParams,
    ) -> Result<(String, u32, Arc<str>), Failure> {
        let path = self.path(&doc.text_document.uri)?;
        let text = self.world.text(&path).unwrap_or_else(|| Arc::from(""));
        let offset = convert::offset(&text, doc.position);
        Ok((path, offset, text))
    }

    fn path(&self, uri: &lsp::Uri) -> Result<String, Failure> {
        self.files.path(uri).ok_or_else(|| {
            (
                ErrorCode::InvalidParams,
                format!("{} is outside the repository", uri.as_str()),
            )
        })
    }

    fn lsp_location(&self, loc: &ev_query::ide::Location) -> Option<lsp::Location> {
        let text = self.world.text(&loc.path)?;
        convert::location(&self.files, &text, loc)
    }

    fn hover(&mut self, p: lsp::HoverParams) -> Result<Option<lsp::Hover>, Failure> {
        let (path, offset, _) = self.at(&p.text_document_position_params)?;
        let Some(h) = self.world.hover(&path, offset) else {
            return Ok(None);
        };
        let range = self
            .world
            .text(&h.range.path)
            .map(|t| convert::range(&t, h.range.start, h.range.end));
        Ok(Some(lsp::Hover {
            contents: lsp::HoverContents::Markup(lsp::MarkupContent {
                kind: lsp::MarkupKind::Markdown,
                value: h.markdown,
            }),
            range,
        }))
    }

    fn definition(
        &mut self,
        p: lsp::GotoDefinitionParams,
    ) -> Result<Option<lsp::GotoDefinitionResponse>, Failure> {
        let (path, offset, _) = self.at(&p.text_document_position_params)?;
        let found: Vec<lsp::Location> = self
            .world
            .definition(&path, offset)
            .iter()
            .filter_map(|l| self.lsp_location(l))
            .collect();
        Ok(match found.len() {
            0 => None,
            _ => Some(lsp::GotoDefinitionResponse::Array(found)),
        })
    }

    fn references(
        &mut self,
        p: lsp::ReferenceParams,
    ) -> Result<Option<Vec<lsp::Location>>, Failure> {
        let (path, offset, _) = self.at(&p.text_document_position)?;
        let found = self
            .world
            .references(&path, offset, p.context.include_declaration);
        Ok(Some(
            found.iter().filter_map(|l| self.lsp_location(l)).collect(),
        ))
    }

    fn document_symbols(
        &mut self,
        p: lsp::DocumentSymbolParams,
    ) -> Result<Option<lsp::DocumentSymbolResponse>, Failure> {
        let path = self.path(&p.text_document.uri)?;
        let text = self.world.text(&path).unwrap_or_else(|| Arc::from(""));
        let symbols = self.world.document_symbols(&path);
        Ok(Some(lsp::DocumentSymbolResponse::Nested(
            symbols
                .iter()
                .map(|s| convert::document_symbol(&text, s))
                .collect(),
        )))
    }

    fn workspace_symbols(
        &mut self,
        p: lsp::WorkspaceSymbolParams,
    ) -> Result<Option<Vec<lsp::SymbolInformation>>, Failure> {
        let symbols = self.world.workspace_symbols(&p.query);
        let mut out = Vec::new();
        for s in &symbols {
            if let Some(text) = self.world.text(&s.location.path) {
                out.extend(convert::symbol_information(&self.files, &text, s));
            }
        }
        Ok(Some(out))
    }

    fn completion(
        &mut self,
        p: lsp::CompletionParams,
    ) -> Result<Option<lsp::CompletionResponse>, Failure> {
        let (path, offset, text) = self.at(&p.text_document_position)?;
        let items = self.world.completions(&path, offset);
        Ok(Some(lsp::CompletionResponse::Array(
            items
                .iter()
                .map(|i| convert::completion(&text, i))
                .collect(),
        )))
    }

    fn prepare_rename(
        &mut self,
        p: lsp::TextDocumentPositionParams,
    ) -> Result<Option<lsp::PrepareRenameResponse>, Failure> {
        let (path, offset, text) = self.at(&p)?;
        let loc = self
            .world
            .prepare_rename(&path, offset)
            .map_err(|e| (ErrorCode::RequestFailed, e))?;
        Ok(Some(lsp::PrepareRenameResponse::Range(convert::range(
            &text, loc.start, loc.end,
        ))))
    }

    fn rename(&mut self, p: lsp::RenameParams) -> Result<Option<lsp::WorkspaceEdit>, Failure> {
        let (path, offset, _) = self.at(&p.text_document_position)?;
        let edits = self
            .world
            .rename(&path, offset, &p.new_name)
            .map_err(|e| (ErrorCode::RequestFailed, e))?;
        Ok(Some(self.workspace_edit(&edits)))
    }

    /// Core edits (repository paths, byte offsets) as an LSP workspace
    /// edit. Offered edits need the user's confirmation where the client
    /// supports it (change annotations); elsewhere they are plain edits.
    #[allow(clippy::mutable_key_type)] // `Uri` hashes by its text
    fn workspace_edit(&self, edits: &[ev_query::ide::TextEdit]) -> lsp::WorkspaceEdit {
        let mut by_file: BTreeMap<String, Vec<(lsp::TextEdit, Option<&str>)>> = BTreeMap::new();
        for edit in edits {
            let Some(text) = self.world.text(&edit.location.path) else {
                continue;
            };
            by_file
                .entry(edit.location.path.clone())
                .or_default()
                .push((
                    lsp::TextEdit {
                        range: convert::range(&text, edit.location.start, edit.location.end),
                        new_text: edit.text.clone(),
                    },
                    edit.offered.as_deref(),
                ));
        }
        let offered = edits.iter().find_map(|e| e.offered.as_deref());
        if let (true, Some(label)) = (self.annotations, offered) {
            const OFFERED: &str = "offered";
            let documents = by_file
                .into_iter()
                .filter_map(|(path, edits)| {
                    let uri = self.files.uri(&path)?;
                    Some(lsp::TextDocumentEdit {
                        text_document: lsp::OptionalVersionedTextDocumentIdentifier {
                            uri,
                            version: self.versions.get(&path).copied(),
                        },
                        edits: edits
                            .into_iter()
                            .map(|(text_edit, offered)| match offered {
                                Some(_) => lsp::OneOf::Right(lsp::AnnotatedTextEdit {
                                    text_edit,
                                    annotation_id: OFFERED.into(),
                                }),
                                None => lsp::OneOf::Left(text_edit),
                            })
                            .collect(),
                    })
                })
                .collect();
            return lsp::WorkspaceEdit {
                document_changes: Some(lsp::DocumentChanges::Edits(documents)),
                change_annotations: Some(
                    [(
                        OFFERED.to_string(),
                        lsp::ChangeAnnotation {
                            label: label.to_string(),
                            needs_confirmation: Some(true),
                            description: None,
                        },
                    )]
                    .into_iter()
                    .collect(),
                ),
                ..Default::default()
            };
        }
        let changes: std::collections::HashMap<lsp::Uri, Vec<lsp::TextEdit>> = by_file
            .into_iter()
            .filter_map(|(path, edits)| {
                let uri = self.files.uri(&path)?;
                Some((uri, edits.into_iter().map(|(e, _)| e).collect()))
            })
            .collect();
        lsp::WorkspaceEdit {
            changes: Some(changes),
            ..Default::default()
        }
    }

    /// Quick fixes of the diagnostics touching the range: "did you mean"
    /// replacements (a close name, an allowed value, a declared resource).
    fn code_actions(
        &mut self,
        p: lsp::CodeActionParams,
    ) -> Result<Option<lsp::CodeActionResponse>, Failure> {
        let path = self.path(&p.text_document.uri)?;
        let text = self.world.text(&path).unwrap_or_else(|| Arc::from(""));
        let start = convert::offset(&text, p.range.start);
        let end = convert::offset(&text, p.range.end);
        // Cached per file: cheap unless the buffer just changed.
        let found = self
            .world
            .diagnostics(Arc::new(AtomicBool::new(false)))
            .unwrap_or_default();
        let world = &self.world;
        let text_of = |p: &str| world.text(p);
        let mut actions = Vec::new();
        for d in &found {
            let touches =
                d.primary.path == path && d.primary.start <= end && start <= d.primary.end;
            if !touches {
                continue;
            }
            let diagnostic = convert::diagnostic(&self.files, d, &text_of);
            for (i, fix) in d.fixes.iter().enumerate() {
                actions.push(lsp::CodeActionOrCommand::CodeAction(lsp::CodeAction {
                    title: format!("Replace with `{}`", fix.text),
                    kind: Some(lsp::CodeActionKind::QUICKFIX),
                    diagnostics: diagnostic.clone().map(|d| vec![d]),
                    edit: Some(self.workspace_edit(std::slice::from_ref(fix))),
                    is_preferred: Some(i == 0),
                    ..Default::default()
                }));
            }
        }
        Ok(Some(actions))
    }

    fn signature_help(
        &mut self,
        p: lsp::SignatureHelpParams,
    ) -> Result<Option<lsp::SignatureHelp>, Failure> {
        let (path, offset, _) = self.at(&p.text_document_position_params)?;
        Ok(self
            .world
            .signature_help(&path, offset)
            .map(|s| convert::signature_help(&s)))
    }

    fn formatting(
        &mut self,
        p: lsp::DocumentFormattingParams,
    ) -> Result<Option<Vec<lsp::TextEdit>>, Failure> {
        let path = self.path(&p.text_document.uri)?;
        let text = self.world.text(&path).unwrap_or_else(|| Arc::from(""));
        match self.world.format(&path) {
            Ok(formatted) if *formatted == *text => Ok(Some(Vec::new())),
            Ok(formatted) => Ok(Some(vec![lsp::TextEdit {
                range: convert::range(&text, 0, text.len() as u32),
                new_text: formatted,
            }])),
            Err(errors) => {
                let first = errors
                    .first()
                    .map(|e| {
                        let pos = convert::position(&text, e.primary.start);
                        format!(
                            ": {} at {}:{}",
                            e.diagnostic.message,
                            pos.line + 1,
                            pos.character + 1
                        )
                    })
                    .unwrap_or_default();
                Err((
                    ErrorCode::RequestFailed,
                    format!("not formatted: the file has syntax errors{first}"),
                ))
            }
        }
    }
}
