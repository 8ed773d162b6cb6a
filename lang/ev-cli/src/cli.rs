//! Command-line definitions (clap). Parsed arguments are turned into
//! [`Settings`](crate::settings::Settings) before any command runs.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// ev: one language for your whole infrastructure.
#[derive(Debug, Parser)]
#[command(name = "ev", version, about, long_about = None)]
pub struct Cli {
    /// Use colours: auto (when writing to a terminal and NO_COLOR is unset), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// How diagnostics are printed: for people (human) or one JSON object per line (json).
    #[arg(long, global = true, value_enum, default_value_t = MessageFormat::Human)]
    pub message_format: MessageFormat,

    /// Stop evaluation after this many steps (E0413; default 20000000, a few seconds of work).
    #[arg(long, global = true, value_name = "N")]
    pub max_steps: Option<u64>,

    /// The repository root (default: the nearest directory upwards holding everything.ev).
    #[arg(short = 'C', global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// The environment to evaluate, plan and apply (before the command:
    /// `ev -e local plan`); default: the one the program marks `default`.
    #[arg(short = 'e', long = "env", value_name = "ENV")]
    pub environment: Option<String>,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse, resolve and check a program (exit 0 when clean, 1 on errors).
    Check {
        /// The entry file (default: everything.ev at the root).
        path: Option<PathBuf>,
    },
    /// Evaluate a program and print its exports (or one expression).
    Eval {
        /// The entry file (default: everything.ev at the root).
        path: Option<PathBuf>,
        /// An expression to evaluate in the entry file's scope instead.
        #[arg(short = 'e', long = "expr", value_name = "EXPR")]
        expr: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Ev)]
        format: OutputFormat,
        /// With --format json: one line, no indentation.
        #[arg(long)]
        compact: bool,
    },
    /// Show what `ev apply` would change, action by action, against the recorded state.
    Plan {
        /// Plan only these: layers (`eight`), actions (`eight:yuto.sh`),
        /// resources (`domain.yuto.sh`, `machine.methanol`) or tags (`tag:cloud`);
        /// their upstream dependencies are pulled in.
        targets: Vec<String>,
        /// Allow deleting more than 30% of a layer's items.
        #[arg(long)]
        allow_large_changes: bool,
        /// Print the versioned machine-readable plan instead (`--format json`).
        #[arg(long, conflicts_with = "format")]
        json: bool,
        /// How the plan prints: for people, as the versioned JSON plan, or
        /// as Markdown for a pull-request comment (with the blast radius).
        #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
        format: PlanFormat,
        /// With --format markdown: link file references to
        /// `URL/<file>#L<line>` (e.g. `https://github.com/me/repo/blob/<sha>`).
        #[arg(long, value_name = "URL")]
        link_base: Option<String>,
        /// Also save the plan (JSON) to this file.
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
        /// Exit 0 when nothing changes, 2 when something does (1 on errors).
        #[arg(long)]
        detailed_exitcode: bool,
        /// Also ask each backend's tool for the live state and report drift.
        #[arg(long)]
        refresh: bool,
        /// Show every item with its values (the default when stdout is not
        /// a terminal).
        #[arg(long, conflicts_with = "compact")]
        full: bool,
        /// Show at most a dozen items per action, values of changed items
        /// only (the default on a terminal).
        #[arg(long)]
        compact: bool,
    },
    /// Apply the plan: run every changed action against the real tools.
    Apply {
        /// A plan saved with `ev plan --out FILE`, applied exactly (refused if
        /// the program, exports or state changed since); else a fresh plan.
        #[arg(value_name = "PLAN")]
        plan: Option<PathBuf>,
        /// Apply only these targets (as for `ev plan`) and what they depend on.
        #[arg(long = "target", value_name = "TARGET")]
        targets: Vec<String>,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
        /// How many actions run at once.
        #[arg(long, default_value_t = 10)]
        parallelism: usize,
        /// After a failure, start nothing new (default: independent actions go on).
        #[arg(long)]
        fail_fast: bool,
        /// Seconds one tool may run before it is killed.
        #[arg(long, default_value_t = 1800, value_name = "SECONDS")]
        timeout: u64,
        /// Seconds running tools may take to finish after Ctrl-C.
        #[arg(long, default_value_t = 30, value_name = "SECONDS")]
        grace: u64,
        /// Seconds to wait for another apply holding the lock to finish
        /// (default: refuse at once, E0602).
        #[arg(long, default_value_t = 0, value_name = "SECONDS")]
        lock_timeout: u64,
        /// Allow deleting more than 30% of a layer's items.
        #[arg(long)]
        allow_large_changes: bool,
        /// Print the apply as a stream of JSON events on stdout, one per line
        /// (versioned; see docs/guide.md). Needs --yes or a saved plan.
        #[arg(long)]
        json: bool,
    },
    /// An interactive REPL over the repository: evaluate expressions, query
    /// the topology (:ls, :show, :refs, :uses, :why, :impact, :plan, ...).
    Repl {
        /// Read inputs from stdin and print results without prompts or colours.
        #[arg(long)]
        batch: bool,
        /// How results print (batch mode).
        #[arg(long, value_enum, default_value_t = QueryFormat::Human)]
        format: QueryFormat,
    },
    /// Run one REPL input (an expression or a :command) and print the result.
    Query {
        /// The input, e.g. `machine.methanol.address` or `:refs stack.jupiter`.
        input: String,
        /// How results print.
        #[arg(long, value_enum, default_value_t = QueryFormat::Human)]
        format: QueryFormat,
    },
    /// Start a new repository: one resource of each kind that checks and
    /// plans, the layer folders, a `.sops.yaml` and a README.
    Init {
        /// Where (default: the current directory); refused if it already
        /// holds an everything.ev or another of the files.
        dir: Option<PathBuf>,
    },
    /// Format .ev files in the canonical style (the program's files by
    /// default; `-` formats stdin to stdout).
    Fmt {
        /// Files or directories (default: everything.ev and its imports).
        paths: Vec<PathBuf>,
        /// Change nothing; exit 1 and list the files that are not formatted.
        #[arg(long)]
        check: bool,
    },
    /// Run the language server on stdin/stdout (for editors: diagnostics,
    /// hover, definition, references, rename, symbols, completion, formatting).
    Lsp {
        /// Accepted for editors that pass it; stdio is the only transport.
        #[arg(long)]
        stdio: bool,
    },
    /// Read or change the recorded state (of the environment `-e` names)
    /// without running any tool.
    State {
        /// What to do.
        #[command(subcommand)]
        command: StateCommand,
    },
    /// Write declarations of what already runs (zones, Kubernetes objects)
    /// into the program, checked to render what they were read from and
    /// recorded in the state as they are live.
    Import {
        /// What to import.
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Remove a stale apply lock (its id is in the message that reported it).
    ForceUnlock {
        /// The lock's id.
        id: String,
    },
    /// Render every backend's files (octodns, Kubernetes, Nix, Pulumi, images) without planning.
    Build,
    /// Compare two environments: what B's declarations render unlike A's,
    /// and whether B deploys the images A has applied (promotion; exit 1
    /// when it does not).
    DiffEnv {
        /// The environment promoted from (e.g. `staging`).
        a: String,
        /// The environment promoted to (e.g. `prod`).
        b: String,
    },
    /// Print the action graph.
    Graph {
        /// Output format.
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
        /// The resource reference graph (what uses what) instead of the actions.
        #[arg(long)]
        resources: bool,
    },
    /// Print the model: every resource, or one kind, or one resource.
    Show {
        /// A kind (`machine`), a resource (`machine.methanol`, `domain.yuto.sh`) or a name.
        target: Option<String>,
        /// With a kind: one resource of it.
        name: Option<String>,
        /// Print what a resource uses and what uses it.
        #[arg(long, value_name = "RESOURCE")]
        refs: Option<String>,
        /// With --refs: follow references transitively.
        #[arg(long, requires = "refs")]
        all: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ShowFormat::Human)]
        format: ShowFormat,
    },
}

/// `ev graph --format` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Graphviz dot.
    Dot,
    /// SVG, through Graphviz `dot` when installed.
    Svg,
    /// JSON (versioned).
    Json,
}

/// `ev state` subcommands.
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Every recorded action: its id, its backend, whether it is protected.
    List,
    /// One recorded action as JSON: what its tool was given (secrets only
    /// as references), its outputs and the digests of its input files.
    Show {
        /// The action's id (`eight:yuto.sh`).
        id: String,
    },
    /// The whole state as JSON, an interrupted apply's journal folded in.
    Pull,
    /// Replace the state with a file `ev state pull` wrote; the state it
    /// replaces is kept as `state.json.backup`.
    Push {
        /// The state file.
        file: PathBuf,
    },
    /// Record an action under the id the program now gives it (after
    /// moving a declaration to another folder): no destroy, no create.
    Mv {
        /// The recorded id.
        from: String,
        /// The id the program declares.
        to: String,
    },
    /// Forget actions: ev stops managing what they applied, which stays
    /// as it is.
    Rm {
        /// The recorded ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Move the state between the environment's local files and the
    /// backend its `state` names: copied, read back and compared by
    /// digest before the old copy is set aside.
    Migrate {
        /// Where the state goes.
        #[arg(long, value_enum)]
        to: StateTarget,
    },
}

/// `ev import` subcommands.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// octodns zone files (the YamlProvider format, what `octodns-dump`
    /// writes), each `<zone>.yaml`, as `domain` declarations.
    Dns {
        /// The program's `octodns_config` listing the zones (its provider
        /// is where they live).
        #[arg(long)]
        config: String,
        /// The folder the `.ev` files are written to.
        #[arg(long, default_value = "eight")]
        into: String,
        /// The TTL of a record set the files give none: the `default_ttl`
        /// of the YamlProvider that wrote them (octodns' default, also
        /// `octodns-dump`'s).
        #[arg(long, default_value_t = 3600)]
        default_ttl: u32,
        /// Read the zones from the config's provider (through
        /// `octodns-dump`): the arguments are zone names.
        #[arg(long)]
        live: bool,
        /// The zone files (`<zone>.yaml`), or with `--live` the zones.
        #[arg(required = true)]
        inputs: Vec<std::path::PathBuf>,
    },
    /// Kubernetes objects, from manifest files (YAML streams or JSON:
    /// kubectl, `tk export`, `helm template`) or a live namespace, each as
    /// one `manifests` declaration.
    K8s {
        /// The program's `cluster` the objects run on.
        #[arg(long)]
        cluster: String,
        /// The folder the `.ev` files are written to.
        #[arg(long, default_value = "milky-way")]
        into: String,
        /// The namespace of the files' objects that name none (default:
        /// the cluster's).
        #[arg(long)]
        namespace: Option<String>,
        /// Read the objects from the cluster (through kubectl): the
        /// arguments are namespaces.
        #[arg(long)]
        live: bool,
        /// The manifest files, or with `--live` the namespaces.
        #[arg(required = true)]
        inputs: Vec<std::path::PathBuf>,
    },
    /// A Pulumi stack, from what `pulumi stack export` writes, as a
    /// `stack` declaration on the stack's own state backend.
    Pulumi {
        /// Where Pulumi keeps the stack's state (`pulumi whoami --verbose`
        /// names it: `file://~/.pulumi`, `s3://bucket`, ...): ev's runs
        /// use the very stack.
        #[arg(long)]
        backend: String,
        /// The stack's name in ev (default: its Pulumi project).
        #[arg(long)]
        name: Option<String>,
        /// The folder the `.ev` file is written to.
        #[arg(long, default_value = "jupiter")]
        into: String,
        /// The export (`pulumi stack export --file F`).
        export: std::path::PathBuf,
    },
}

/// `ev state migrate --to` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StateTarget {
    /// The environment's files in `.ev/`.
    Local,
    /// The PostgreSQL database the environment's `state` names.
    Postgres,
    /// The Kubernetes cluster the environment's `state` names.
    Kubernetes,
    /// The S3-compatible bucket the environment's `state` names.
    S3,
}

/// `ev plan --format` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// Text for people.
    Human,
    /// The versioned JSON plan.
    Json,
    /// Markdown for a pull-request comment.
    Markdown,
}

/// `ev query` and `ev repl --format` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum QueryFormat {
    /// ev syntax and tables.
    Human,
    /// JSON.
    Json,
}

/// `ev show --format` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ShowFormat {
    /// Tables and trees for people.
    Human,
    /// JSON (versioned).
    Json,
    /// YAML.
    Yaml,
}

/// `--color` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when the output is a terminal and NO_COLOR is unset.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// `--message-format` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MessageFormat {
    /// Rendered reports.
    Human,
    /// JSON lines.
    Json,
}

/// `ev eval --format` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// JSON.
    Json,
    /// YAML.
    Yaml,
    /// ev syntax.
    Ev,
}
