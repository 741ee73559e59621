//! The `mlp` command line: a thin shell over `mlp-lang` and `mlp-runtime`.
//!
//! Parses arguments with clap, calls the library, renders diagnostics (miette in a terminal,
//! JSON on request) and maps results to exit codes: 0 success, 1 the input has errors, 2 the
//! command could not run (bad arguments, unreadable files).

/// `println!` that does not panic when standard output is closed (`mlp runs | head`): output
/// nobody reads is dropped, and the command carries on, so a run is never cut short by it.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `print!` without the panic, as [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod run;
mod serve;
mod store;
mod view;

use clap::{Parser, Subcommand, ValueEnum};

/// mimalloc: the front end allocates many small nodes; measured 15-25% faster on large
/// pipelines than the system allocator (docs/benchmarks.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
use mlp_lang::diag::{render_json, render_terminal};
use mlp_lang::{Checked, Code};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "mlp", version, about = "Production machine-learning pipelines as code")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log level of mlp's tracing on standard error: error, warn, info, debug or trace
    /// (`RUST_LOG` takes filter directives, such as `mlp_runtime=debug`).
    #[arg(long, global = true, value_name = "LEVEL")]
    log_level: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Type-check a pipeline and everything it imports.
    Check {
        /// The pipeline file.
        file: PathBuf,
        /// Override a pipeline parameter: NAME=VALUE (repeatable).
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
        /// Output format of diagnostics.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Treat warnings as errors.
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Print the pipeline's DAG.
    Graph {
        /// The pipeline file.
        file: PathBuf,
        /// Override a pipeline parameter: NAME=VALUE (repeatable).
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
        /// Graph format.
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
    /// Format pipeline files in place (or check that they are formatted).
    Fmt {
        /// Files to format.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Do not write; exit 1 if a file would change.
        #[arg(long)]
        check: bool,
    },
    /// Run a pipeline: every step as a sandboxed WebAssembly component, in dependency order.
    Run {
        /// The pipeline file.
        file: PathBuf,
        /// Override a pipeline parameter: NAME=VALUE (repeatable).
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
        /// Print an artifact when the run ends: STEP.OUTPUT (repeatable).
        #[arg(long = "show", value_name = "STEP.OUTPUT")]
        show: Vec<String>,
        /// Rows of each table printed by --show.
        #[arg(long, default_value_t = 20)]
        rows: usize,
        /// Most steps running at once (default: the number of cores).
        #[arg(long, short = 'j', value_parser = clap::value_parser!(u16).range(1..))]
        jobs: Option<u16>,
        /// The store for artifacts and lineage (default: `.mlp` beside the pipeline).
        #[arg(long)]
        store: Option<PathBuf>,
        /// Run every step, reusing nothing from earlier runs (results are still recorded).
        #[arg(long)]
        no_cache: bool,
        /// Print events as JSON lines on standard output (started, finished with outputs and
        /// logs, and the run's end) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List the runs in a store (`mlp runs`), or show one with its steps and artifacts
    /// (`mlp runs show ID`).
    Runs {
        #[command(subcommand)]
        command: Option<RunsCommand>,
        /// The store (default: `.mlp` in the current folder).
        #[arg(long, default_value = ".mlp", global = true)]
        store: PathBuf,
        /// Print JSON.
        #[arg(long, global = true)]
        json: bool,
    },
    /// The lineage of an artifact: what it was made from (or, with --downstream, what was made
    /// from it).
    Lineage {
        /// An artifact id or digest (a unique prefix of the hex is enough).
        artifact: String,
        /// Follow the artifact downstream instead.
        #[arg(long)]
        downstream: bool,
        /// `tree` or `dot`.
        #[arg(long, value_enum, default_value_t = LineageFormat::Tree)]
        format: LineageFormat,
        /// The store (default: `.mlp` in the current folder).
        #[arg(long, default_value = ".mlp")]
        store: PathBuf,
    },
    /// List, print and export stored artifacts.
    Artifacts {
        #[command(subcommand)]
        command: store::ArtifactsCommand,
        /// The store (default: `.mlp` in the current folder).
        #[arg(long, default_value = ".mlp", global = true)]
        store: PathBuf,
        /// Print JSON (for `ls`).
        #[arg(long, global = true)]
        json: bool,
    },
    /// Check a store's integrity: database, artifact files, leftovers of interrupted runs.
    Doctor {
        /// Repair what can be repaired: remove leftovers, quarantine damaged artifacts, settle
        /// runs a dead process left running.
        #[arg(long)]
        fix: bool,
        /// Also recompute every artifact's digest from its content (slower).
        #[arg(long)]
        deep: bool,
        /// The store (default: `.mlp` in the current folder).
        #[arg(long, default_value = ".mlp")]
        store: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// A readable view of an artifact: statistics, a schema or anomalies in the terminal, or
    /// statistics as an HTML page with a histogram per feature (`--html`), two splits or two
    /// spans side by side.
    Show {
        /// An artifact id or digest (a unique prefix of the hex is enough).
        artifact: String,
        /// The split to show (statistics): default every split in the terminal, the first one
        /// in HTML.
        #[arg(long)]
        split: Option<String>,
        /// Write an HTML page of the statistics to this file.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// Statistics to compare with in the HTML page (another span, serving data). Default:
        /// another split of the same artifact.
        #[arg(long, value_name = "ARTIFACT")]
        against: Option<String>,
        /// The split of the compared statistics (default: the same split, or with no
        /// `--against`, the next split).
        #[arg(long, value_name = "SPLIT")]
        against_split: Option<String>,
        /// Rows shown of a table artifact.
        #[arg(long, default_value_t = 10)]
        rows: usize,
        /// The store (default: `.mlp` in the current folder).
        #[arg(long, default_value = ".mlp")]
        store: PathBuf,
    },
    /// Work with schemas.
    Schema {
        #[command(subcommand)]
        command: SchemaCommand,
    },
    /// Make the previous version of a serving folder current again (the newest complete
    /// version older than the current one), and record it in the lineage.
    Rollback {
        /// The serving folder a `tab.push` step writes to.
        dir: PathBuf,
        /// The store to record the rollback in (default: `.mlp` in the current folder, when it
        /// exists).
        #[arg(long)]
        store: Option<PathBuf>,
    },
    /// Work with plugins.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Serve the models a push step writes to DIR over HTTP (TF Serving's REST API shape):
    /// `POST /v1/models/NAME:predict`, `GET /v1/models/NAME`, `GET /healthz`, `GET /metrics`.
    /// A new version is loaded when DIR/CURRENT changes, without dropping requests.
    Serve {
        /// The serving directory (holding `versions/` and `CURRENT`).
        dir: PathBuf,
        /// The port to listen on.
        #[arg(long, default_value_t = 8501)]
        port: u16,
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        host: std::net::IpAddr,
        /// The model's name in URLs (default: DIR's folder name).
        #[arg(long)]
        name: Option<String>,
        /// How often DIR/CURRENT is checked for a new version.
        #[arg(long, default_value = "500ms", value_parser = mlp_serve::parse_duration)]
        poll: std::time::Duration,
        /// Most examples run through the model at once (concurrent requests are merged).
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
        max_batch: u32,
        /// The longest a batch waits for more requests after its first (only while requests
        /// are arriving).
        #[arg(long, default_value = "2ms", value_parser = mlp_serve::parse_duration)]
        batch_wait: std::time::Duration,
    },
    /// Explain a diagnostic code, e.g. `mlp explain E0301`.
    Explain {
        /// The code.
        code: String,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Create a new plugin crate that builds into a component, with its `.mlp` declaration and
    /// a pipeline that runs it.
    New {
        /// The component's name: lowercase letters, digits and `_`, starting with a letter.
        name: String,
        /// Folder to create (default: ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Path of the mlp-sdk crate (default: the SDK this mlp was built with).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum SchemaCommand {
    /// The differences between two schemas (artifact ids, digests or schema JSON files): one
    /// line per change. Exits with 0 when they are the same and 1 when they differ.
    Diff {
        /// The old schema.
        a: String,
        /// The new schema.
        b: String,
        /// The store (default: `.mlp` in the current folder).
        #[arg(long, default_value = ".mlp")]
        store: PathBuf,
    },
}

#[derive(Subcommand)]
enum RunsCommand {
    /// Show a run: its steps, their states, inputs and outputs.
    Show {
        /// The run id (the first column of `mlp runs`).
        id: i64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum LineageFormat {
    Tree,
    Dot,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    Dot,
    Mermaid,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A server logs its version swaps and load failures unless told otherwise.
    let default_log = matches!(cli.command, Command::Serve { .. }).then_some("mlp_serve=info");
    if let Err(e) = init_tracing(cli.log_level.as_deref(), default_log) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    match cli.command {
        Command::Check { file, set, format, deny_warnings } => {
            let Some(checked) = load(&file, &set) else { return ExitCode::from(2) };
            report(&checked, format);
            let failed = checked.has_errors() || (deny_warnings && !checked.diagnostics.is_empty());
            if failed {
                return ExitCode::from(1);
            }
            if matches!(format, Format::Human) {
                let steps = checked.ir.as_ref().map_or(0, |ir| ir.steps.len());
                let warnings = checked.diagnostics.len();
                let w = if warnings == 0 { String::new() } else { format!(", {warnings} warning{}", plural(warnings)) };
                outln!("ok: {} checked, {steps} step{}{w}", file.display(), plural(steps));
            }
            ExitCode::SUCCESS
        }
        Command::Graph { file, set, format } => {
            let Some(checked) = load(&file, &set) else { return ExitCode::from(2) };
            report(&checked, Format::Human);
            let Some(ir) = &checked.ir else { return ExitCode::from(1) };
            let out = match format {
                GraphFormat::Dot => ir.to_dot(),
                GraphFormat::Mermaid => ir.to_mermaid(),
                GraphFormat::Json => ir.to_json() + "\n",
            };
            out!("{out}");
            ExitCode::SUCCESS
        }
        Command::Fmt { files, check } => {
            let mut changed = Vec::new();
            for f in &files {
                let text = match std::fs::read_to_string(f) {
                    Ok(t) => t,
                    Err(e) => {
                        eprintln!("error: cannot read {}: {e}", f.display());
                        return ExitCode::from(2);
                    }
                };
                let out = mlp_lang::fmt::format(&text);
                if out != text {
                    changed.push(f.clone());
                    if !check && let Err(e) = write_atomic(f, &out) {
                        eprintln!("error: cannot write {}: {e}", f.display());
                        return ExitCode::from(2);
                    }
                }
            }
            for f in &changed {
                outln!("{} {}", if check { "would reformat" } else { "reformatted" }, f.display());
            }
            if check && !changed.is_empty() { ExitCode::from(1) } else { ExitCode::SUCCESS }
        }
        Command::Run { file, set, show, rows, jobs, store, no_cache, json } => {
            run::run(&file, &set, &show, rows, run::Settings { jobs: jobs.map(usize::from), store, no_cache, json })
        }
        Command::Runs { command, store, json } => store::runs(&store, command.map(|RunsCommand::Show { id }| id), json),
        Command::Lineage { artifact, downstream, format, store } => {
            store::lineage_cmd(&store, &artifact, downstream, matches!(format, LineageFormat::Dot))
        }
        Command::Artifacts { command, store, json } => store::artifacts_cmd(&store, command, json),
        Command::Doctor { fix, deep, store, json } => store::doctor(&store, fix, deep, json),
        Command::Show { artifact, split, html, against, against_split, rows, store } => {
            view::show(view::ShowArgs { artifact, store, split, html, against, against_split, rows })
        }
        Command::Schema { command: SchemaCommand::Diff { a, b, store } } => view::schema_diff(&store, &a, &b),
        Command::Rollback { dir, store } => store::rollback(&dir, store.as_deref()),
        Command::Plugin { command: PluginCommand::New { name, dir, sdk } } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
            let sdk = sdk.unwrap_or_else(|| PathBuf::from(mlp_guests::SDK_DIR));
            match mlp_runtime::scaffold::new_plugin(&name, &dir, &sdk, &mlp_guests::component("generate")) {
                Ok(files) => {
                    for f in files {
                        outln!("created {}", f.display());
                    }
                    outln!("\nnext:\n  cd {}\n  cargo build --release\n  mlp run pipeline.mlp", dir.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Serve { dir, port, host, name, poll, max_batch, batch_wait } => {
            serve::serve(serve::ServeArgs { dir, host, port, name, poll, max_batch: max_batch as usize, batch_wait })
        }
        Command::Explain { code } => match Code::parse(&code) {
            Some(c) => {
                out!("{}", c.page());
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("error: `{code}` is not an mlp diagnostic code (codes look like E0301 or W0001)");
                ExitCode::from(2)
            }
        },
    }
}

/// Tracing to standard error, when `--log-level` or `RUST_LOG` asks for it (or `default`, the
/// command's own filter, says so).
fn init_tracing(level: Option<&str>, default: Option<&str>) -> Result<(), String> {
    use tracing_subscriber::EnvFilter;
    let filter = match (level, std::env::var("RUST_LOG")) {
        (Some(l), _) => {
            if !matches!(l, "error" | "warn" | "info" | "debug" | "trace" | "off") {
                return Err(format!("--log-level {l}: use error, warn, info, debug, trace or off"));
            }
            EnvFilter::new(format!("mlp_runtime={l},mlp_store={l},mlp_cli={l},mlp_serve={l}"))
        }
        (None, Ok(directives)) => EnvFilter::try_new(&directives).map_err(|e| format!("RUST_LOG={directives}: {e}"))?,
        (None, Err(_)) => match default {
            Some(d) => EnvFilter::new(d),
            None => return Ok(()),
        },
    };
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(color).init();
    Ok(())
}

pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

pub(crate) fn load(file: &std::path::Path, set: &[String]) -> Option<Checked> {
    match mlp_runtime::check_file(file, set) {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("error: {e}");
            None
        }
    }
}

pub(crate) fn report(checked: &Checked, format: Format) {
    match format {
        Format::Json => outln!("{}", render_json(&checked.diagnostics, &checked.sources)),
        Format::Human => {
            if !checked.diagnostics.is_empty() {
                let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
                eprint!("{}", render_terminal(&checked.diagnostics, &checked.sources, color));
                let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
                if errors > 0 {
                    eprintln!("error: {errors} error{} found", plural(errors));
                }
            }
        }
    }
}

/// Write through a temporary file and a rename, so a crash never leaves half a file.
fn write_atomic(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("mlp.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}
