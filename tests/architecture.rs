//! The module graph has no cycles: what two modules share lives below both.
//!
//! Reads every `src/**/*.rs` of the library, collects the `crate::…` and
//! `super::…` paths each file names (in `use` trees and in expressions),
//! and builds a graph whose nodes are the top-level modules (`calendar`,
//! `fairness`, `daemon`, …) and, for the two folders whose parts are layers
//! of their own, `policy::<submodule>` and `report::<submodule>`. A cycle
//! fails the test and is named with a file and line for every edge.
//!
//! The reader is deliberately small (comments and literals blanked, then
//! tokens): it needs no parser crate, and the unit tests at the bottom hold
//! it to the shapes the code uses (grouped `use` trees, `super::` from files
//! and inline modules, paths in expressions).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

/// Folders whose submodules are nodes of their own in the graph.
const SPLIT: &[&str] = &["policy", "report"];

/// Edges that still close a cycle on `main` and that another change is
/// removing (issue 10, Part 1: the daemon owns its loop and the shared types
/// move below `daemon`). They are left out of the graph until then. When one
/// of them disappears, `allowlist_has_no_stale_entries` fails: delete its
/// line here, and this list ends empty.
const KNOWN_CYCLES_BEING_REMOVED: &[(&str, &str)] = &[];

#[test]
fn the_module_graph_has_no_cycles() {
    let graph = crate_graph();
    let mut pruned = graph.clone();
    for (from, to) in KNOWN_CYCLES_BEING_REMOVED {
        if let Some(out) = pruned.get_mut(*from) {
            out.remove(*to);
        }
    }
    let cycles = cycles(&pruned);
    if !cycles.is_empty() {
        let mut msg = String::from(
            "modules import each other in a circle; move what they share below both:\n",
        );
        for c in &cycles {
            msg.push_str(&format!("\n  {}\n", c.join(" → ")));
            for pair in c.windows(2) {
                let at = &pruned[&pair[0]][&pair[1]];
                msg.push_str(&format!("    {} → {}: {at}\n", pair[0], pair[1]));
            }
        }
        panic!("{msg}");
    }
}

#[test]
fn allowlist_has_no_stale_entries() {
    let graph = crate_graph();
    let stale: Vec<String> = KNOWN_CYCLES_BEING_REMOVED
        .iter()
        .filter(|(from, to)| !graph.get(*from).is_some_and(|out| out.contains_key(*to)))
        .map(|(from, to)| format!("{from} → {to}"))
        .collect();
    assert!(
        stale.is_empty(),
        "these edges are gone: delete them from KNOWN_CYCLES_BEING_REMOVED: {stale:?}"
    );
}

#[test]
fn the_graph_sees_the_core_modules() {
    // Guards against a reader that silently finds nothing.
    let graph = crate_graph();
    for (from, to) in [
        ("policy::evaluate", "fairness"),
        ("fairness", "policy::model"),
        ("daemon", "policy"),
        ("report::html", "report::charts"),
    ] {
        assert!(
            graph.get(from).is_some_and(|out| out.contains_key(to)),
            "expected an edge {from} → {to}; the reader is broken"
        );
    }
}

/// node → node it uses → where (the first `file:line` seen).
type Graph = BTreeMap<String, BTreeMap<String, String>>;

fn crate_graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let modules = Modules::of(&src, &files);
    let mut graph = Graph::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let Some(module) = module_path(rel) else {
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        let from = modules.node(&module);
        for (path, line) in crate_paths(&text, &module, &modules.all()) {
            let to = modules.node(&path);
            if to.is_empty() || to == from {
                continue;
            }
            graph
                .entry(from.clone())
                .or_default()
                .entry(to)
                .or_insert_with(|| format!("src/{}:{line}", rel.display()));
        }
    }
    graph
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `policy/evaluate.rs` → `[policy, evaluate]`, `report/mod.rs` →
/// `[report]`, `lib.rs` → `[]`; `main.rs` is another crate (`None`).
fn module_path(rel: &Path) -> Option<Vec<String>> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop()?;
    let stem = last.strip_suffix(".rs")?;
    match (parts.is_empty(), stem) {
        (true, "main") => return None,
        (true, "lib") | (false, "mod") => {}
        _ => parts.push(stem.to_string()),
    }
    Some(parts)
}

/// Which module paths exist, to tell a submodule from an item.
struct Modules(BTreeSet<Vec<String>>);

impl Modules {
    fn of(src: &Path, files: &[PathBuf]) -> Modules {
        Modules(
            files
                .iter()
                .filter_map(|f| module_path(f.strip_prefix(src).unwrap()))
                .collect(),
        )
    }

    fn all(&self) -> Vec<Vec<String>> {
        self.0.iter().cloned().collect()
    }

    /// The graph node a module path belongs to: its top-level module, or
    /// `policy::x` / `report::x` when `x` is a submodule of those. Empty
    /// for the crate root.
    fn node(&self, path: &[String]) -> String {
        let Some(top) = path.first() else {
            return String::new();
        };
        if !self.0.contains(&vec![top.clone()]) {
            // An item of the crate root (lib.rs declares only modules).
            return String::new();
        }
        if SPLIT.contains(&top.as_str())
            && let Some(sub) = path.get(1)
            && self.0.contains(&vec![top.clone(), sub.clone()])
        {
            return format!("{top}::{sub}");
        }
        top.clone()
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    ColonColon,
    Open,
    Close,
    Comma,
    Other,
}

/// Tokens with their line numbers; comments, strings and char literals are
/// dropped so that a path in a doc comment or a message does not count.
fn tokens(text: &str) -> Vec<(Tok, usize)> {
    let b = text.as_bytes();
    let (mut i, mut line, mut out) = (0, 1, Vec::new());
    let skip_to = |i: &mut usize, line: &mut usize, end: usize| {
        *line += b[*i..end].iter().filter(|&&c| c == b'\n').count();
        *i = end;
    };
    while i < b.len() {
        let c = b[i];
        if c == b'\n' {
            line += 1;
            i += 1;
        } else if c.is_ascii_whitespace() {
            i += 1;
        } else if b[i..].starts_with(b"//") {
            let end = text[i..].find('\n').map_or(b.len(), |n| i + n);
            i = end;
        } else if b[i..].starts_with(b"/*") {
            let (mut depth, mut j) = (0usize, i);
            while j < b.len() {
                if b[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if b[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            skip_to(&mut i, &mut line, j);
        } else if c == b'r'
            && matches!(b.get(i + 1), Some(b'"' | b'#'))
            && raw_string(b, i).is_some()
        {
            let end = raw_string(b, i).unwrap();
            skip_to(&mut i, &mut line, end);
        } else if c == b'"' || (c == b'b' && b.get(i + 1) == Some(&b'"')) {
            let mut j = if c == b'b' { i + 2 } else { i + 1 };
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            skip_to(&mut i, &mut line, (j + 1).min(b.len()));
        } else if c == b'\'' {
            // A char literal ('x', '\n', '\u{1F600}', 'é') or a lifetime ('a).
            if b.get(i + 1) == Some(&b'\\') {
                let mut j = i + 2;
                while j < b.len() && b[j] != b'\'' {
                    j += 1;
                }
                i = j + 1;
            } else if let Some(ch) = text[i + 1..].chars().next()
                && text[i + 1 + ch.len_utf8()..].starts_with('\'')
            {
                i += 2 + ch.len_utf8();
            } else {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                j += 1;
            }
            out.push((Tok::Ident(text[i..j].to_string()), line));
            i = j;
        } else if b[i..].starts_with(b"::") {
            out.push((Tok::ColonColon, line));
            i += 2;
        } else {
            out.push((
                match c {
                    b'{' => Tok::Open,
                    b'}' => Tok::Close,
                    b',' => Tok::Comma,
                    _ => Tok::Other,
                },
                line,
            ));
            i += text[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    out
}

/// The end of a raw string starting at `i` (`r"…"`, `r#"…"#`), if it is one.
fn raw_string(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while b.get(j) == Some(&b'#') {
        j += 1;
    }
    let hashes = j - i - 1;
    if b.get(j) != Some(&b'"') {
        return None;
    }
    let mut k = j + 1;
    while k < b.len() {
        if b[k] == b'"'
            && b[k + 1..]
                .iter()
                .take(hashes)
                .filter(|&&c| c == b'#')
                .count()
                == hashes
        {
            return Some(k + 1 + hashes);
        }
        k += 1;
    }
    Some(b.len())
}

/// Every path into the crate that `text` (the file of module `module`)
/// names, as absolute module paths without the leading `crate`, each with
/// its line. `children` are the module paths that exist, to read a path
/// that starts at a child module of this one.
fn crate_paths(
    text: &str,
    module: &[String],
    children: &[Vec<String>],
) -> Vec<(Vec<String>, usize)> {
    let toks = tokens(text);
    let ident = |i: usize| match toks.get(i) {
        Some((Tok::Ident(s), _)) => Some(s.as_str()),
        _ => None,
    };
    let is = |i: usize, t: &Tok| toks.get(i).is_some_and(|(x, _)| x == t);
    let mut out = Vec::new();
    // Inline modules (`mod tests { … }`) with the brace depth they close at.
    let (mut inline, mut depth): (Vec<(String, usize)>, usize) = (Vec::new(), 0);
    let mut i = 0;
    while i < toks.len() {
        match &toks[i].0 {
            Tok::Open => depth += 1,
            Tok::Close => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Tok::Ident(kw) if kw == "mod" => {
                if let Some(name) = ident(i + 1)
                    && is(i + 2, &Tok::Open)
                {
                    inline.push((name.to_string(), depth + 1));
                }
            }
            // A path that starts at a child module: `use stats::X`,
            // `markdown::render(r)`.
            Tok::Ident(child)
                if is(i + 1, &Tok::ColonColon)
                    && !(i > 0 && is(i - 1, &Tok::ColonColon))
                    && children.iter().any(|c| {
                        c.len() == module.len() + inline.len() + 1
                            && c.last() == Some(child)
                            && c.starts_with(module)
                            && inline.is_empty()
                    }) =>
            {
                let mut base = module.to_vec();
                base.push(child.clone());
                let line = toks[i].1;
                i = use_tree(&toks, i + 2, base, line, &mut out);
                continue;
            }
            Tok::Ident(start)
                if (start == "crate" || start == "super" || start == "self")
                    && is(i + 1, &Tok::ColonColon)
                    && !(i > 0 && is(i - 1, &Tok::ColonColon)) =>
            {
                let here: Vec<String> = module
                    .iter()
                    .cloned()
                    .chain(inline.iter().map(|(n, _)| n.clone()))
                    .collect();
                let (base, next) = match start.as_str() {
                    "crate" => (Vec::new(), i + 2),
                    _ => {
                        let mut base = here;
                        let mut j = i;
                        if start == "super" {
                            base.pop();
                            j += 2;
                            while ident(j) == Some("super") && is(j + 1, &Tok::ColonColon) {
                                base.pop();
                                j += 2;
                            }
                        } else {
                            j += 2;
                        }
                        (base, j)
                    }
                };
                let line = toks[i].1;
                i = use_tree(&toks, next, base, line, &mut out);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Reads the path or `use` tree at `i` under `base`; returns the index after it.
fn use_tree(
    toks: &[(Tok, usize)],
    mut i: usize,
    mut base: Vec<String>,
    line: usize,
    out: &mut Vec<(Vec<String>, usize)>,
) -> usize {
    loop {
        match toks.get(i).map(|t| &t.0) {
            Some(Tok::Ident(s)) if s != "as" => {
                if s != "self" {
                    base.push(s.clone());
                }
                i += 1;
                if toks.get(i).map(|t| &t.0) == Some(&Tok::ColonColon) {
                    i += 1;
                    continue;
                }
                out.push((base, line));
                return i;
            }
            Some(Tok::Open) => {
                i += 1;
                loop {
                    match toks.get(i).map(|t| &t.0) {
                        None => return i,
                        Some(Tok::Close) => return i + 1,
                        Some(Tok::Comma) => i += 1,
                        Some(Tok::Ident(s)) if s == "as" => i += 2,
                        Some(Tok::Ident(_) | Tok::Open) => {
                            let line = toks[i].1;
                            i = use_tree(toks, i, base.clone(), line, out);
                        }
                        // `*` and anything else: the group's base itself.
                        Some(_) => {
                            out.push((base.clone(), line));
                            i += 1;
                        }
                    }
                }
            }
            _ => {
                // `crate::*` or a path cut short: the base itself.
                out.push((base, line));
                return i;
            }
        }
    }
}

/// One cycle per strongly connected component with more than one node, each
/// starting and ending at its smallest node, in a stable order.
fn cycles<V>(graph: &BTreeMap<String, BTreeMap<String, V>>) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = graph
        .iter()
        .flat_map(|(k, out)| std::iter::once(k).chain(out.keys()))
        .collect();
    let next =
        |n: &str| -> Vec<&String> { graph.get(n).map_or(Vec::new(), |o| o.keys().collect()) };
    let reaches = |from: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_string()];
        while let Some(n) = todo.pop() {
            for m in next(&n) {
                if seen.insert(m.clone()) {
                    todo.push(m.clone());
                }
            }
        }
        seen
    };
    let reach: BTreeMap<&String, BTreeSet<String>> =
        nodes.iter().map(|n| (*n, reaches(n))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for n in &nodes {
        if done.contains(*n) || !reach[n].contains(*n) {
            continue;
        }
        let component: BTreeSet<&String> = nodes
            .iter()
            .filter(|m| reach[n].contains(**m) && reach[**m].contains(*n))
            .copied()
            .collect();
        done.extend(component.iter().map(|s| (*s).clone()));
        // The shortest way round from `n` back to itself.
        let mut parent: BTreeMap<&String, &String> = BTreeMap::new();
        let mut queue = VecDeque::from([*n]);
        let mut last = None;
        'search: while let Some(u) = queue.pop_front() {
            for v in next(u) {
                if v == *n {
                    last = Some(u);
                    break 'search;
                }
                if component.contains(v) && !parent.contains_key(v) {
                    parent.insert(v, u);
                    queue.push_back(v);
                }
            }
        }
        let mut cycle = vec![(*n).clone()];
        let mut at = last.expect("a node in its own component reaches itself");
        while at != *n {
            cycle.push(at.clone());
            at = parent[at];
        }
        cycle.push((*n).clone());
        cycle.reverse();
        out.push(cycle);
    }
    out
}

fn graph_of(edges: &[(&str, &str)]) -> BTreeMap<String, BTreeMap<String, ()>> {
    let mut g: BTreeMap<String, BTreeMap<String, ()>> = BTreeMap::new();
    for (a, b) in edges {
        g.entry(a.to_string())
            .or_default()
            .insert(b.to_string(), ());
    }
    g
}

#[test]
fn cycle_finder_names_each_cycle() {
    let g = graph_of(&[
        ("a", "b"),
        ("b", "c"),
        ("c", "a"),
        ("d", "a"),
        ("x", "y"),
        ("y", "x"),
    ]);
    assert_eq!(
        cycles(&g),
        vec![vec!["a", "b", "c", "a"], vec!["x", "y", "x"]]
    );
}

#[test]
fn cycle_finder_accepts_a_layered_graph() {
    let g = graph_of(&[("a", "b"), ("a", "c"), ("b", "c"), ("d", "a"), ("d", "c")]);
    assert!(cycles(&g).is_empty());
}

#[test]
fn reader_resolves_use_trees_super_and_inline_modules() {
    let text = r#"
//! Uses crate::ignored::in_docs.
use crate::{calendar::Event, fairness::{self, Score}};
use super::model::Policy;
use super::{comment, agenda as words};
const S: &str = "crate::not::a_path";
pub use rules::{agenda, notice::check};
fn f<'a>(x: &'a str) -> char {
    let _ = crate::store::open(x);
    '{'
}
mod tests {
    use super::*;
    use rules::ignored_in_inline_module;
    use super::super::diagnostic::Diagnostic;
}
"#;
    let module = vec!["policy".to_string(), "evaluate".to_string()];
    let children = [vec![
        "policy".to_string(),
        "evaluate".to_string(),
        "rules".to_string(),
    ]];
    let mut paths: Vec<String> = crate_paths(text, &module, &children)
        .into_iter()
        .map(|(p, _)| p.join("::"))
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "calendar::Event",
            "fairness",
            "fairness::Score",
            "policy::agenda",
            "policy::comment",
            "policy::diagnostic::Diagnostic",
            "policy::evaluate",
            "policy::evaluate::rules::agenda",
            "policy::evaluate::rules::notice::check",
            "policy::model::Policy",
            "store::open",
        ]
    );
}
