//! The code's layout, checked: what the documentation says about the
//! files is true, and no module uses another in a circle.
//!
//! These tests read the source as text. They keep the reading guide, the
//! journeys in `src/lib.rs` and the exercises from naming a file or a
//! function that has moved, and keep each program's files layered, so a
//! student can read them in order.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Every `.rs` file under `dir` (relative to the package root), sorted.
fn rust_files(dir: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![Path::new(ROOT).join(dir)];
    while let Some(folder) = folders.pop() {
        for entry in fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The `.rs` files directly in `dir`, not in its folders.
fn rust_files_in(dir: &str) -> Vec<PathBuf> {
    let folder = Path::new(ROOT).join(dir);
    rust_files(dir)
        .into_iter()
        .filter(|path| path.parent() == Some(folder.as_path()))
        .collect()
}

fn read(path: impl AsRef<Path>) -> String {
    fs::read_to_string(Path::new(ROOT).join(path)).unwrap()
}

/// The words between backticks in `text`.
fn quoted(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// Whether a program's source defines `name`: a function, or for
/// `Type::method` a type and its method.
fn program_defines(name: &str) -> bool {
    let sources: String = rust_files("src/bin").iter().map(read).collect();
    let defines_fn =
        |f: &str| sources.contains(&format!("fn {f}(")) || sources.contains(&format!("fn {f}<"));
    match name.split_once("::") {
        Some((ty, method)) => {
            let has_type = [format!("struct {ty}"), format!("enum {ty}")]
                .iter()
                .any(|def| sources.contains(def.as_str()));
            has_type && defines_fn(method)
        }
        None => defines_fn(name) || sources.contains(&format!("struct {name}")),
    }
}

/// Every file a document names (`src/...`, `tests/...`, `examples/...`,
/// `benches/...`, and `ftpserver/x.rs` or `ftpclient/x.rs` for the
/// programs' files) exists.
#[test]
fn every_file_the_documents_name_exists() {
    let documents = [
        "README.md",
        "EXERCISES.md",
        "PROTOCOL.md",
        "BENCHMARKS.md",
        "src/lib.rs",
        "src/bin/ftpserver.rs",
        "src/bin/ftpclient.rs",
    ];
    let mut checked = 0;
    for document in documents {
        for word in quoted(&read(document)) {
            let path = if word.starts_with("ftpserver/") || word.starts_with("ftpclient/") {
                format!("src/bin/{word}")
            } else {
                word.to_string()
            };
            let is_path = ["src/", "tests/", "examples/", "benches/"]
                .iter()
                .any(|prefix| path.starts_with(prefix))
                && (path.ends_with(".rs") || path.ends_with('/'))
                && !path.contains(' ');
            if is_path {
                assert!(
                    Path::new(ROOT).join(&path).exists(),
                    "{document} names `{word}`, which does not exist"
                );
                checked += 1;
            }
        }
    }
    assert!(
        checked > 40,
        "only {checked} paths found: the test reads nothing"
    );
}

/// The journeys of a chat line and a file in `src/lib.rs` name the
/// programs' functions; each still exists.
#[test]
fn the_journeys_name_functions_that_exist() {
    let lib = read("src/lib.rs");
    let journeys = &lib[lib.find("## The journey of one chat line").unwrap()..];
    let mut checked = 0;
    for word in quoted(journeys) {
        let is_function = word.contains("::") && word.starts_with(char::is_uppercase)
            || (word.contains('_') && word.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        if is_function {
            assert!(
                program_defines(word),
                "src/lib.rs names `{word}`, which no program defines"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} functions found");
}

/// The exercises point at functions; each still exists (in the library
/// or a program).
#[test]
fn the_exercises_name_functions_that_exist() {
    let exercises = read("EXERCISES.md");
    let library: String = rust_files("src").iter().map(read).collect();
    for name in [
        "Session::chat",
        "Clients::join",
        "first_line",
        "connect",
        "make_visible",
        "read_line",
    ] {
        assert!(
            exercises.contains(&format!("`{name}`")),
            "EXERCISES.md no longer names {name}"
        );
        let short = name.rsplit("::").next().unwrap();
        assert!(library.contains(&format!("fn {short}")), "`{name}` is gone");
    }
}

/// The modules a file uses, by name: `crate::NAME` in a program or the
/// library, `super::NAME` inside `src/protocol/`.
fn uses(source: &str, prefix: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for part in source.split(prefix).skip(1) {
        let name: String = part
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            used.insert(name);
        }
    }
    used
}

/// The modules of one program or the library, each with those it uses,
/// from the files directly in `folder`; the files of a module's own
/// folder (`src/protocol/`) count as that module.
fn module_graph(folder: &str, prefix: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files: Vec<(String, PathBuf)> = rust_files_in(folder)
        .into_iter()
        .map(|path| {
            (
                path.file_stem().unwrap().to_string_lossy().into_owned(),
                path,
            )
        })
        .collect();
    if folder == "src" {
        files.extend(
            rust_files_in("src/protocol")
                .into_iter()
                .map(|p| ("protocol".to_string(), p)),
        );
    }
    for (name, path) in files {
        if name == "mod" || name == "lib" {
            continue;
        }
        let source = read(&path);
        // Code only: tests may use anything, and a comment's link to
        // another module is not a use of it.
        let code: String = source
            .split("#[cfg(test)]")
            .next()
            .unwrap()
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut used = uses(&code, prefix);
        used.remove(&name);
        graph.entry(name).or_default().extend(used);
    }
    graph
}

/// A module that uses itself through others, if any: the cycle.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            return Some(path[start..].to_vec());
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if graph.contains_key(next)
                && let Some(cycle) = visit(next, graph, path, done)
            {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

/// No module uses another in a circle: not in the library, not in the
/// wire format, not in either program. And a program's files use their
/// siblings and the library, never an item of the program's root file.
#[test]
fn no_module_uses_another_in_a_circle() {
    let graphs = [
        ("the library", module_graph("src", "crate::")),
        ("the wire format", module_graph("src/protocol", "super::")),
        ("ftpserver", module_graph("src/bin/ftpserver", "crate::")),
        ("ftpclient", module_graph("src/bin/ftpclient", "crate::")),
    ];
    let circle = BTreeMap::from([
        ("a".to_string(), BTreeSet::from(["b".to_string()])),
        ("b".to_string(), BTreeSet::from(["a".to_string()])),
    ]);
    assert!(
        find_cycle(&circle).is_some(),
        "the check itself finds a circle"
    );
    for (what, graph) in &graphs {
        assert!(graph.len() >= 5, "{what}: {graph:?}");
        if let Some(cycle) = find_cycle(graph) {
            panic!("{what}: modules use each other in a circle: {cycle:?}");
        }
    }
    for (what, graph) in &graphs[2..] {
        for (module, used) in graph {
            for name in used {
                assert!(
                    graph.contains_key(name),
                    "{what}: {module}.rs uses crate::{name}, which is not one of its files"
                );
            }
        }
    }
}
