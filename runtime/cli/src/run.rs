//! `mlp run`: checks a pipeline, runs it on the wasmtime host and prints what each step did.
//!
//! Progress goes to standard error as steps start and finish, with the logs they send; a step
//! that fails prints its message, its detail (the plugin's detail or the guest backtrace) and
//! the end of its standard error. `--show STEP.OUTPUT` prints an artifact once the run ends.

use crate::{Format, load, plural, report};
use mlp_kernels::data::Part;
use mlp_runtime::host::{Host, HostConfig, StepEvent};
use mlp_runtime::run::{Progress, RunOptions, RunReport, StepStatus};
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

/// How `mlp run` runs.
pub(crate) struct Settings {
    /// `-j`.
    pub jobs: Option<usize>,
    /// `--store`.
    pub store: Option<std::path::PathBuf>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--json`: events as JSON lines on standard output instead of text.
    pub json: bool,
}

pub(crate) fn run(file: &Path, set: &[String], show: &[String], rows: usize, settings: Settings) -> ExitCode {
    let Some(checked) = load(file, set) else { return ExitCode::from(2) };
    report(&checked, Format::Human);
    let Some(ir) = checked.ir.as_ref().filter(|_| !checked.has_errors()) else { return ExitCode::from(1) };
    for s in show {
        let known = s
            .split_once('.')
            .is_some_and(|(step, port)| ir.steps.iter().any(|st| st.id == step && st.outputs.contains_key(port)));
        if !known {
            let outs: Vec<String> =
                ir.steps.iter().flat_map(|st| st.outputs.keys().map(move |p| format!("{}.{p}", st.id))).collect();
            eprintln!("error: --show {s}: no such step output (the pipeline has: {})", outs.join(", "));
            return ExitCode::from(2);
        }
    }
    let host = match Host::new(HostConfig::default()) {
        Ok(h) => std::sync::Arc::new(h),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let root = mlp_runtime::run::pipeline_dir(file);
    let started = std::time::Instant::now();
    let store = settings.store.unwrap_or_else(|| root.join(mlp_store::DEFAULT_DIR));
    let options = RunOptions {
        parallelism: settings.jobs.unwrap_or(RunOptions::default().parallelism),
        ctrl_c: true,
        store: Some(store.clone()),
        use_cache: !settings.no_cache,
        ..RunOptions::default()
    };
    let live = !settings.json && std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut view = View { json: settings.json, live, status_shown: false };
    let result = mlp_runtime::run::run(&host, ir, &root, &options, &mut |p| view.progress(&p));
    view.clear_status();
    let report = match result {
        Ok(r) => r,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}\n  help: {}", e.help());
            }
            eprintln!("error: {} problem{} found before running", errors.len(), plural(errors.len()));
            return ExitCode::from(1);
        }
    };
    for s in show {
        if let Some((step, port)) = s.split_once('.') {
            show_artifact(&report, step, port, rows);
        }
    }
    if settings.json {
        let state = if report.canceled {
            "canceled"
        } else if report.failures().next().is_some() {
            "failed"
        } else {
            "complete"
        };
        let event = serde_json::json!({
            "event": "run",
            "state": state,
            "run": report.run.map(|r| r.0),
            "store": store,
            "elapsed_ms": started.elapsed().as_millis() as u64,
        });
        outln!("{event}");
    } else {
        summary(&report, started.elapsed());
        outputs_summary(ir, &report, &store);
        if let Some(run) = report.run {
            eprintln!(
                "recorded as run {run} in {} (`mlp runs show {run} --store {}`)",
                store.display(),
                store.display()
            );
        }
    }
    if report.canceled {
        eprintln!("canceled: steps that had not finished were stopped");
        return ExitCode::from(130);
    }
    if report.failures().next().is_some() { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

/// How progress is shown: text lines, a live status line on a terminal, or JSON events.
struct View {
    json: bool,
    live: bool,
    status_shown: bool,
}

impl View {
    fn clear_status(&mut self) {
        if self.status_shown {
            eprint!("\r\x1b[2K");
            self.status_shown = false;
        }
    }

    fn progress(&mut self, p: &Progress<'_>) {
        if self.json {
            json_event(p);
            return;
        }
        if let Progress::Tick { running, done, total } = p {
            if self.live && !running.is_empty() {
                let now: Vec<String> = running.iter().map(|(id, t)| format!("{id} {:.1}s", t.as_secs_f64())).collect();
                eprint!("\r\x1b[2K[{done}/{total}] running: {}", now.join(", "));
                self.status_shown = true;
            }
            return;
        }
        self.clear_status();
        print_progress(p);
    }
}

/// One JSON line per event on standard output.
fn json_event(p: &Progress<'_>) {
    let event = match p {
        Progress::Started(id, attempt) => serde_json::json!({"event": "started", "step": id, "attempt": attempt}),
        Progress::Tick { .. } => return,
        Progress::Finished(r) => {
            let (status, error, detail) = match &r.status {
                StepStatus::Succeeded => ("succeeded", None, None),
                StepStatus::Cached => ("cached", None, None),
                StepStatus::Skipped(why) => ("skipped", Some(why.clone()), None),
                StepStatus::Failed(e) => ("failed", Some(e.message.clone()), e.detail.clone()),
            };
            let outputs: serde_json::Map<String, serde_json::Value> = r
                .outputs
                .iter()
                .map(|(port, a)| {
                    let parts: serde_json::Map<String, serde_json::Value> = a
                        .data
                        .parts
                        .iter()
                        .map(|(name, part)| {
                            let v = match part {
                                Part::Table(t) => serde_json::json!({"rows": t.num_rows()}),
                                Part::Blob(b) => serde_json::json!({"bytes": b.len()}),
                            };
                            (name.clone(), v)
                        })
                        .collect();
                    (
                        port.clone(),
                        serde_json::json!({"type": a.data.artifact_type, "digest": a.digest, "parts": parts}),
                    )
                })
                .collect();
            let logs: Vec<serde_json::Value> = r
                .events
                .iter()
                .map(|e| match e {
                    StepEvent::Log { level, message } => serde_json::json!({"log": level, "message": message}),
                    StepEvent::Progress { fraction, note } => serde_json::json!({"progress": fraction, "note": note}),
                    StepEvent::Metric { name, step, value } => {
                        serde_json::json!({"metric": name, "step": step, "value": value})
                    }
                })
                .collect();
            serde_json::json!({
                "event": "finished",
                "step": r.id,
                "status": status,
                "error": error,
                "detail": detail,
                "attempts": r.attempts,
                "elapsed_ms": r.elapsed.as_secs_f64() * 1e3,
                "outputs": outputs,
                "events": logs,
            })
        }
    };
    outln!("{event}");
}

/// Where the pipeline's final outputs (those no step consumes) are in the store.
fn outputs_summary(ir: &mlp_lang::ir::Ir, report: &RunReport, store: &Path) {
    let consumed: std::collections::HashSet<(&str, &str)> =
        ir.edges.iter().map(|e| (e.from.as_str(), e.output.as_str())).collect();
    let Ok(artifacts) = mlp_store::ArtifactStore::open(store) else { return };
    let mut lines = Vec::new();
    for s in &report.steps {
        for (port, a) in &s.outputs {
            if consumed.contains(&(s.id.as_str(), port.as_str())) {
                continue;
            }
            if let Ok(path) = artifacts.path_of(&a.digest) {
                lines.push(format!("  {}.{port}: {} in {}", s.id, a.data.artifact_type, path.display()));
            }
        }
    }
    if !lines.is_empty() {
        eprintln!("outputs:\n{}", lines.join("\n"));
    }
}

fn print_progress(p: &Progress<'_>) {
    match p {
        Progress::Tick { .. } => {}
        Progress::Started(id, attempt) if *attempt > 1 => eprintln!("  {id}: retrying (attempt {attempt})"),
        Progress::Started(..) => {}
        Progress::Finished(r) => {
            for e in &r.events {
                if let StepEvent::Log { level, message } = e
                    && !matches!(*level, "trace" | "debug")
                {
                    eprintln!("  {} | {level}: {message}", r.id);
                }
            }
            match &r.status {
                StepStatus::Succeeded => {
                    eprintln!("ok    {} ({:.1} ms) {}", r.id, r.elapsed.as_secs_f64() * 1e3, outputs_line(r));
                }
                StepStatus::Cached => eprintln!("cache {} {}", r.id, outputs_line(r)),
                StepStatus::Skipped(why) => eprintln!("skip  {}: {why}", r.id),
                StepStatus::Failed(e) => {
                    eprintln!("FAIL  {}: {}", r.id, e.message);
                    if let Some(d) = &e.detail {
                        for line in d.lines() {
                            eprintln!("      {line}");
                        }
                    }
                    let tail: Vec<&str> = e.stderr.lines().rev().take(10).collect();
                    if !tail.is_empty() {
                        eprintln!("      stderr:");
                        for line in tail.iter().rev() {
                            eprintln!("        {line}");
                        }
                    }
                }
            }
        }
    }
}

/// `port: Type [part: N rows, ...]` for each output of a step.
fn outputs_line(r: &mlp_runtime::run::StepReport) -> String {
    let outs: Vec<String> = r
        .outputs
        .iter()
        .map(|(port, a)| {
            let parts: Vec<String> = a
                .data
                .parts
                .iter()
                .map(|(name, part)| match part {
                    Part::Table(t) => format!("{name}: {} rows", t.num_rows()),
                    Part::Blob(b) => format!("{name}: {} bytes", b.len()),
                })
                .collect();
            format!("{port}: {} [{}]", a.data.artifact_type, parts.join(", "))
        })
        .collect();
    outs.join("; ")
}

fn summary(report: &RunReport, elapsed: std::time::Duration) {
    let n = |f: fn(&StepStatus) -> bool| report.steps.iter().filter(|s| f(&s.status)).count();
    let ok = n(|s| matches!(s, StepStatus::Succeeded));
    let cached = n(|s| matches!(s, StepStatus::Cached));
    let failed = n(|s| matches!(s, StepStatus::Failed(_)));
    let skipped = n(|s| matches!(s, StepStatus::Skipped(_)));
    eprintln!(
        "{}: {ok} step{} succeeded, {cached} cached, {failed} failed, {skipped} skipped in {:.2} s",
        if failed == 0 { "done" } else { "failed" },
        plural(ok),
        elapsed.as_secs_f64()
    );
}

fn show_artifact(report: &RunReport, step: &str, port: &str, rows: usize) {
    let Some(a) = report.artifact(step, port) else {
        outln!("{step}.{port}: not produced");
        return;
    };
    outln!("{step}.{port}: {} {}", a.data.artifact_type, a.digest);
    print_artifact(&a.data, rows);
}

/// An artifact's properties and parts, tables as text.
pub(crate) fn print_artifact(data: &mlp_kernels::data::ArtifactData, rows: usize) {
    if let Some(text) = crate::view::data_text(data) {
        out!("{text}");
        return;
    }
    for (k, v) in &data.properties {
        outln!("  {k} = {v}");
    }
    for (name, part) in &data.parts {
        match part {
            Part::Table(t) => {
                outln!("\n[{name}] {} rows", t.num_rows());
                out!("{}", mlp_runtime::table_text(t, rows));
            }
            Part::Blob(b) => match std::str::from_utf8(b) {
                Ok(text) if text.len() <= 4096 => outln!("\n[{name}]\n{text}"),
                _ => outln!("\n[{name}] {} bytes", b.len()),
            },
        }
    }
}
