//! The layering rules of docs/ARCHITECTURE.md, checked on the sources: the domain and delivery
//! layers name no surface, and no two top-level modules import each other, directly or round a
//! circle. Test modules (`#[cfg(test)]` to the end of a file) are left out.
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The surfaces and what stands below them.
const SURFACES: &[&str] = &[
    "recruitment",
    "ashby",
    "candidate",
    "console",
    "admin",
    "auth",
    "health",
    "openapi",
];
/// Wiring (and the test support, which assembles databases as the wiring does): it may name
/// anything, and nothing else names it.
const WIRING: &[&str] = &["startup", "cli", "main", "lib", "testing"];
const DOMAIN_AND_DELIVERY: &[&str] = &["assessment", "catalog", "links", "delivery", "secrets", "tenancy"];

/// Top-level module → the top-level modules its sources name (`crate::x`).
fn import_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(&src).expect("under src");
            let top = relative
                .components()
                .next()
                .and_then(|c| c.as_os_str().to_str())
                .map(|s| s.trim_end_matches(".rs").to_owned())
                .expect("a module name");
            let text = std::fs::read_to_string(&path).expect("a source file");
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            let names = graph.entry(top.clone()).or_default();
            for (i, _) in code.match_indices("crate::") {
                let name: String = code[i + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != top {
                    names.insert(name);
                }
            }
        }
    }
    graph
}

#[test]
fn the_domain_and_delivery_name_no_surface_and_nothing_names_the_wiring() {
    let graph = import_graph();
    for module in DOMAIN_AND_DELIVERY {
        let named: Vec<_> = graph[*module]
            .iter()
            .filter(|n| SURFACES.contains(&n.as_str()) || n.as_str() == "state")
            .collect();
        assert!(named.is_empty(), "{module} names {named:?}");
    }
    for (module, names) in &graph {
        if WIRING.contains(&module.as_str()) {
            continue;
        }
        let named: Vec<_> = names.iter().filter(|n| WIRING.contains(&n.as_str())).collect();
        assert!(named.is_empty(), "{module} names the wiring: {named:?}");
    }
}

#[test]
fn no_circle_of_imports_between_modules() {
    let graph = import_graph();
    // A module is on a circle when it can reach itself.
    for start in graph.keys().filter(|m| !WIRING.contains(&m.as_str())) {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&String> = graph[start].iter().collect();
        let mut path_back = None;
        while let Some(next) = todo.pop() {
            if next == start {
                path_back = Some(next);
                break;
            }
            if WIRING.contains(&next.as_str()) || !seen.insert(next.clone()) {
                continue;
            }
            todo.extend(graph.get(next).into_iter().flatten());
        }
        assert!(
            path_back.is_none(),
            "{start} is on a circle of imports (it reaches itself through {seen:?})"
        );
    }
}
