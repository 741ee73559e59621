//! `mlp run`: checks a pipeline, runs it on the wasmtime host and prints what each step did.
//!
//! Progress goes to standard error as steps start and finish, with the logs they send; a step
//! that fails prints its message, its detail (the plugin's detail or the guest backtrace) and
//! the end of its standard error. `--show STEP.OUTPUT` prints an artifact once the run ends.

use crate::{Format, load, plural, report};
use mlp_kernels::data::Part;
use mlp_runtime::host::{Host, HostConfig, StepEvent};
use mlp_runtime::run::{Progress, RunOptions, RunReport, StepStatus};
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
    let result = mlp_runtime::run::run(&host, ir, &root, &options, &mut |p| print_progress(&p));
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
    summary(&report, started.elapsed());
    if let Some(run) = report.run {
        eprintln!("recorded as run {run} in {} (`mlp runs show {run} --store {}`)", store.display(), store.display());
    }
    if report.canceled {
        eprintln!("canceled: steps that had not finished were stopped");
        return ExitCode::from(130);
    }
    if report.failures().next().is_some() { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

fn print_progress(p: &Progress<'_>) {
    match p {
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
        println!("{step}.{port}: not produced");
        return;
    };
    println!("{step}.{port}: {} {}", a.data.artifact_type, a.digest);
    print_artifact(&a.data, rows);
}

/// An artifact's properties and parts, tables as text.
pub(crate) fn print_artifact(data: &mlp_kernels::data::ArtifactData, rows: usize) {
    for (k, v) in &data.properties {
        println!("  {k} = {v}");
    }
    for (name, part) in &data.parts {
        match part {
            Part::Table(t) => {
                println!("\n[{name}] {} rows", t.num_rows());
                print!("{}", mlp_runtime::table_text(t, rows));
            }
            Part::Blob(b) => match std::str::from_utf8(b) {
                Ok(text) if text.len() <= 4096 => println!("\n[{name}]\n{text}"),
                _ => println!("\n[{name}] {} bytes", b.len()),
            },
        }
    }
}
