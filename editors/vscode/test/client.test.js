// The extension's client, run outside VS Code: `vscode` and the language
// client library are replaced by recorders, and activation must start
// `ev lsp` for .ev files with the configured binary and entry.
"use strict";

const test = require("node:test");
const assert = require("node:assert");
const Module = require("node:module");

function activateWith(settings) {
  const recorded = { clients: [], watchers: [] };
  const vscode = {
    workspace: {
      getConfiguration: (section) => {
        assert.strictEqual(section, "ev");
        return { get: (key, fallback) => (key in settings ? settings[key] : fallback) };
      },
      createFileSystemWatcher: (glob) => {
        recorded.watchers.push(glob);
        return { glob };
      },
    },
  };
  class LanguageClient {
    constructor(id, name, serverOptions, clientOptions) {
      this.args = { id, name, serverOptions, clientOptions };
      this.started = false;
      recorded.clients.push(this);
    }
    start() {
      this.started = true;
    }
    stop() {
      this.started = false;
      return Promise.resolve();
    }
  }
  const load = Module._load;
  Module._load = function (request, ...rest) {
    if (request === "vscode") return vscode;
    if (request === "vscode-languageclient/node") return { LanguageClient };
    return load.call(this, request, ...rest);
  };
  try {
    const path = require.resolve("../extension.js");
    delete require.cache[path];
    const extension = require(path);
    const context = { subscriptions: [] };
    extension.activate(context);
    return { extension, context, recorded };
  } finally {
    Module._load = load;
  }
}

test("activation starts `ev lsp` for ev files", () => {
  const { context, recorded } = activateWith({});
  assert.strictEqual(recorded.clients.length, 1);
  const client = recorded.clients[0];
  assert.ok(client.started);
  assert.deepStrictEqual(client.args.serverOptions.run, { command: "ev", args: ["lsp"] });
  assert.deepStrictEqual(client.args.clientOptions.documentSelector, [{ scheme: "file", language: "ev" }]);
  assert.deepStrictEqual(client.args.clientOptions.initializationOptions, { entry: "everything.ev" });
  assert.deepStrictEqual(recorded.watchers, ["**/*.{ev,json,yaml,yml,toml}"]);
  assert.strictEqual(context.subscriptions.length, 1);
});

test("the binary and the entry come from the settings", async () => {
  const { extension, recorded } = activateWith({
    "server.path": "/opt/ev/bin/ev",
    "server.entry": "infra/main.ev",
  });
  const client = recorded.clients[0];
  assert.strictEqual(client.args.serverOptions.run.command, "/opt/ev/bin/ev");
  assert.deepStrictEqual(client.args.clientOptions.initializationOptions, { entry: "infra/main.ev" });
  await extension.deactivate();
  assert.ok(!client.started);
});
