// The ev extension: starts `ev lsp` for .ev files. Everything else
// (diagnostics, hover, definition, completion, formatting...) is the server's.
"use strict";

const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("ev");
  const command = config.get("server.path", "ev");
  const serverOptions = {
    run: { command, args: ["lsp"] },
    debug: { command, args: ["lsp"] },
  };
  const clientOptions = {
    documentSelector: [{ scheme: "file", language: "ev" }],
    initializationOptions: { entry: config.get("server.entry", "everything.ev") },
    synchronize: {
      // Data files (exports, magic JSON) feed values: re-check when they change.
      fileEvents: vscode.workspace.createFileSystemWatcher("**/*.{ev,json,yaml,yml,toml}"),
    },
  };
  client = new LanguageClient("ev", "ev language server", serverOptions, clientOptions);
  client.start();
  context.subscriptions.push({ dispose: () => client && client.stop() });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
