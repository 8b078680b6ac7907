//! The workspace's layout, checked (issue 35): modules that import each other in a circle, and
//! files too long to read as one concept. The lists below are what the code holds today; they may
//! only shrink. A new circle or an oversized file fails here, naming it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Crates whose modules are checked.
const CRATES: [&str; 5] = ["repo-format/src", "chunker/src", "toc/src", "store/src", "cli/src"];

/// Circles of modules (by top-level module) allowed today: none. A doc comment's `crate::` link
/// counts as a use.
const KNOWN_CIRCLES: &[&[&str]] = &[];

/// Longest a file may be, in lines.
const MAX_LINES: usize = 500;

/// Files allowed to be longer today, with their ceiling; each may only shrink.
const KNOWN_LONG: &[(&str, usize)] = &[
    ("chunker/src/lib.rs", 543),
    ("repo-format/src/blob.rs", 783),
];

fn workspace() -> PathBuf {
    manifest_dir().parent().unwrap().to_path_buf()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The top-level modules `text` names through `crate::` paths, grouped imports included.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Split the group at depth 0 and take each item's first segment.
            let (mut depth, mut start) = (0usize, 0usize);
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        out.insert(ident(group[start..j].trim()));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(ident(group[start..j].trim()));
                        start = j + 1;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(rest));
        }
    }
    out.retain(|m| !m.is_empty() && m != "self");
    out
}

/// The names the crate root at `src` re-exports (`pub use module::{A, B};`), with their module:
/// `crate::A` is a use of that module.
fn root_reexports(src: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for root in ["lib.rs", "main.rs"] {
        let Ok(text) = std::fs::read_to_string(src.join(root)) else { continue };
        for line in text.lines().filter_map(|l| l.trim().strip_prefix("pub use ")) {
            let Some((module, names)) = line.trim_end_matches(';').split_once("::") else { continue };
            for name in names.trim_matches(|c| c == '{' || c == '}').split(',') {
                let name = name.split(" as ").last().unwrap_or(name).trim();
                if !name.is_empty() && !name.contains("::") {
                    out.insert(name.to_string(), module.trim().to_string());
                }
            }
        }
    }
    out
}

/// Edges between the top-level modules of the crate at `src`.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let reexports = root_reexports(src);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(src) {
        let rel = file.strip_prefix(src).unwrap();
        let top = rel.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
        if top == "lib" || top == "main" {
            continue;
        }
        let targets = crate_paths(&std::fs::read_to_string(&file).unwrap()).into_iter().map(|t| reexports.get(&t).cloned().unwrap_or(t));
        edges.entry(top.clone()).or_default().extend(targets.into_iter().filter(|t| *t != top));
    }
    edges
}

/// Strongly connected components of more than one module (Tarjan).
fn circles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<String, usize>,
        low: BTreeMap<String, usize>,
        stack: Vec<String>,
        out: Vec<BTreeSet<String>>,
    }
    fn visit(s: &mut State, v: &str) {
        let n = s.index.len();
        s.index.insert(v.into(), n);
        s.low.insert(v.into(), n);
        s.stack.push(v.into());
        for w in s.edges.get(v).cloned().unwrap_or_default() {
            if !s.index.contains_key(&w) {
                visit(s, &w);
                let lw = s.low[&w];
                s.low.entry(v.into()).and_modify(|l| *l = (*l).min(lw));
            } else if s.stack.contains(&w) {
                let iw = s.index[&w];
                s.low.entry(v.into()).and_modify(|l| *l = (*l).min(iw));
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = BTreeSet::new();
            while let Some(w) = s.stack.pop() {
                comp.insert(w.clone());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                s.out.push(comp);
            }
        }
    }
    let mut s = State { edges, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), out: Vec::new() };
    for v in edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn no_new_import_circles() {
    let mut found = Vec::new();
    for krate in CRATES {
        for c in circles(&graph(&workspace().join(krate))) {
            eprintln!("{krate}: circle {c:?}");
            let known = KNOWN_CIRCLES.iter().any(|k| c.iter().all(|m| k.contains(&m.as_str())));
            if !known {
                found.push(format!("{krate}: {}", c.into_iter().collect::<Vec<_>>().join(" <-> ")));
            }
        }
    }
    assert!(found.is_empty(), "modules that import each other in a circle: {found:?}");
}

#[test]
fn no_file_grows_past_its_ceiling() {
    let mut found = Vec::new();
    for krate in CRATES {
        for file in rust_files(&workspace().join(krate)) {
            let rel = file.strip_prefix(workspace()).unwrap().to_string_lossy().into_owned();
            let lines = std::fs::read_to_string(&file).unwrap().lines().count();
            let ceiling = KNOWN_LONG.iter().find(|(f, _)| *f == rel).map_or(MAX_LINES, |(_, n)| *n);
            if lines > ceiling {
                found.push(format!("{rel}: {lines} lines (at most {ceiling})"));
            }
        }
    }
    assert!(found.is_empty(), "files too long to read as one concept: {found:?}");
}

#[test]
fn the_circle_finder_finds_grouped_imports() {
    let paths = crate_paths("use crate::{pack::{A, B}, repository::Repository};\nlet x = crate::lock::acquire();");
    assert_eq!(paths.into_iter().collect::<Vec<_>>(), ["lock", "pack", "repository"]);
    let mut g = BTreeMap::new();
    g.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    g.insert("b".to_string(), BTreeSet::from(["c".to_string()]));
    g.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(circles(&g), vec![BTreeSet::from(["a".to_string(), "b".to_string(), "c".to_string()])]);
    // A name the crate root re-exports counts as a use of its module (`crate::Id` uses `id`).
    let dir = std::env::temp_dir().join(format!("dbvault-layout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("lib.rs"), "pub use error::{Result, StoreError};\npub use id::Id;\n").unwrap();
    let r = root_reexports(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!((r["Result"].as_str(), r["StoreError"].as_str(), r["Id"].as_str()), ("error", "error", "id"));
}

/// This package's folder, as cargo says when it runs the test: a test binary built in another
/// checkout that shares the build folder (a CI clone) and found fresh must not read that one's
/// files through a path compiled in.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")), std::path::PathBuf::from)
}
