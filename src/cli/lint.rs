//! `gatekeeper policy lint [PATH...]`: every problem in every policy file,
//! at once, rustc-style or as JSON.

use std::collections::HashMap;
use std::path::PathBuf;

use super::{Exit, Format};
use crate::policy::diagnostic::{render_human, render_json};
use crate::policy::{Diagnostic, lint_bytes};
use crate::team::policy_files;

#[derive(clap::Args)]
pub struct Args {
    /// Policy files or folders of them [default: policies]
    paths: Vec<PathBuf>,
    /// How to print: `human` for people, `json` for scripts and tools.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

pub fn run(args: Args) -> Exit {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from("policies")]
    } else {
        args.paths
    };
    let files = match policy_files(&paths) {
        Ok(f) => f,
        Err(e) => {
            super::err(e);
            return Exit::Failure;
        }
    };
    if files.is_empty() {
        super::err("no policy files found");
        return Exit::Failure;
    }
    let mut sources = Vec::new();
    for f in &files {
        match super::read_bytes(f) {
            Ok(s) => sources.push((f.display().to_string(), s)),
            Err(e) => {
                super::err(e);
                return Exit::Failure;
            }
        }
    }
    let linted = lint_bytes(sources);
    let by_path: HashMap<String, String> = linted
        .iter()
        .map(|f| (f.path.clone(), f.source.clone()))
        .collect();
    let diags: Vec<Diagnostic> = linted
        .iter()
        .flat_map(|f| f.diagnostics.iter().cloned())
        .collect();
    let source_of = |p: &str| by_path.get(p).cloned();
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    match args.format {
        Format::Json => println!("{}", render_json(&diags, &source_of)),
        Format::Human => {
            if !diags.is_empty() {
                eprint!("{}", render_human(&diags, &source_of, super::use_color()));
            }
            if errors == 0 {
                println!(
                    "{} polic{} checked: no errors{}",
                    linted.len(),
                    if linted.len() == 1 { "y" } else { "ies" },
                    if warnings > 0 {
                        format!(", {warnings} warning(s)")
                    } else {
                        String::new()
                    }
                );
            } else {
                eprintln!(
                    "error: {errors} error(s) in {} file(s)",
                    linted.iter().filter(|f| f.policy.is_none()).count()
                );
            }
        }
    }
    if errors == 0 {
        Exit::Ok
    } else {
        Exit::PolicyInvalid
    }
}
