//! The direction of the crate's internal dependencies, at the level of `src/`'s top-level
//! modules and folders: which of them name which through `crate::` paths. No module may reach,
//! through those paths, a module that reaches back to it (issue 14): every dependency points
//! one way.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules of `src/` (a file `x.rs` or a folder `x/`), each with its files.
fn modules(src: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let mut modules: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for entry in std::fs::read_dir(src).expect("src/") {
        let path = entry.expect("an entry").path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            let mut files = Vec::new();
            collect_rs(&path, &mut files);
            modules.entry(name).or_default().extend(files);
        } else if path.extension().is_some_and(|e| e == "rs") && name != "lib" {
            modules.entry(name).or_default().push(path);
        }
    }
    modules
}

fn collect_rs(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a folder") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            collect_rs(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The text without line comments (doc comments name modules in links, not dependencies).
fn code(text: &str) -> String {
    text.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level module names `code` reaches through `crate::x` and `crate::{x, y::z}`.
fn named(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // The items at the group's own depth: `crate::{a::{b, c}, d}` names `a` and `d`.
            let (mut depth, mut item) = (0, String::new());
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        names.insert(head_of(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            names.insert(head_of(&item));
        } else {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            names.insert(rest[..end].to_owned());
        }
    }
    names
}

/// The first segment of a `use` item: `a::{b, c}` -> `a`.
fn head_of(item: &str) -> String {
    item.trim()
        .split("::")
        .next()
        .unwrap_or("")
        .trim()
        .to_owned()
}

/// Every `(from, to)` where `from` names `to` and `to` reaches `from` back.
fn back_edges(src: &Path) -> BTreeSet<(String, String)> {
    let modules = modules(src);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, files) in &modules {
        let targets = edges.entry(module.clone()).or_default();
        for file in files {
            let text = std::fs::read_to_string(file).expect("a source file");
            for name in named(&code(&text)) {
                if name != *module && modules.contains_key(&name) {
                    targets.insert(name);
                }
            }
        }
    }
    let reaches = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_owned()];
        while let Some(module) = todo.pop() {
            for next in edges.get(&module).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let mut back = BTreeSet::new();
    for (from, targets) in &edges {
        for to in targets {
            if reaches(to).contains(from) {
                back.insert((from.clone(), to.clone()));
            }
        }
    }
    back
}

#[test]
fn no_dependency_cycles_between_top_level_modules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let cycles = back_edges(&src);
    assert!(
        cycles.is_empty(),
        "dependency cycles (module -> a module that reaches it back): {cycles:?}"
    );
}

#[test]
fn the_scanner_sees_plain_and_grouped_paths_and_ignores_comments() {
    let text = "use crate::a::X;\nuse crate::{b, c::{d, e::Y}, h};\n// crate::e in a comment\n\
                let x = crate::f::g();";
    let names: Vec<String> = named(&code(text))
        .into_iter()
        .filter(|n| !n.is_empty())
        .collect();
    assert_eq!(names, ["a", "b", "c", "f", "h"]);
}
