//! The shared crate's layering, checked by reading its source.
//!
//! Frontdoor's library is layered, and dependencies point one way, downwards:
//!
//! ```text
//!   edge ──► flows ──► app ──► repo ──► ports ──► domain
//!    │                                    ▲         ▲
//!    │                                    │         │
//!    └──────────────────────────────► adapters ─────┘
//! ```
//!
//! | layer   | modules                                                               |
//! |---------|-----------------------------------------------------------------------|
//! | edge    | `http` and below, `runtime`, `lambda`: HTTP glue, composition         |
//! | flows   | `flows` and below: sign-in, sign-up, sessions, the profile            |
//! | app     | `app`: what the flows run against                                     |
//! | repo    | `repo`: domain objects to store items, mapped once                    |
//! | ports   | `store` (traits, `keys`, `counting`), `courier`, `webhooks`, `social`   |
//! | adapter | `store::dynamodb`, `store::sqlite`, `courier::aws`, `courier::outbox`, `webhooks::http`, `social::hyper` |
//! | domain  | the rest: `error`, `clock`, `settings`, `model`, `security`, …        |
//!
//! Each layer imports only its own layer and those to its right. Adapters implement the ports:
//! they sit beside them, use only ports and the domain, and only the edge names them — the
//! edge is where adapters are chosen and plugged in. The crate root only declares and
//! re-exports, and is exempt.
//!
//! Why a test: the flows know no HTTP and no AWS. A flow that takes an `axum` extractor or an
//! `aws_sdk_*` type cannot run under another transport or another store, and an import that
//! points upwards (a flow reaching into `crate::http`, the domain reaching into a flow) turns
//! the layers into one tangle that only compiles together. Rust checks neither, so this does:
//!
//! 1. no import points to a higher layer (and adapters are imported only by the edge);
//! 2. the layers below the adapters use none of the framework or SDK crates;
//! 3. the module graph has no cycle.
//!
//! It reads `shared/src` as text: comments, string contents and everything from a
//! `#[cfg(test)]` line to the end of a file (unit tests may import freely) are ignored; `use`
//! trees (grouped, nested, over several lines) and inline paths (`crate::flows::session::x()`,
//! `super::client::commit(..)`) are both imports. Each path resolves to the longest prefix that
//! is a module of the crate. The analysis is a set of pure functions over
//! `(path, source)` pairs, so `the_checker_catches_violations` can feed it fake trees.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

// ---------------------------------------------------------------------------------------------
// The rules
// ---------------------------------------------------------------------------------------------

/// A layer of the shared crate; the derived order is the rank (higher may import lower).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    Domain,
    Ports,
    Repo,
    App,
    Flows,
    Adapter,
    Edge,
}

/// The adapter modules: each is its own island that only the edge may name.
const ADAPTERS: &[&str] = &[
    "crate::store::dynamodb",
    "crate::store::sqlite",
    "crate::courier::aws",
    "crate::courier::outbox",
    "crate::webhooks::http",
    "crate::social::hyper",
    "crate::images::files",
    "crate::images::s3",
];

/// The HTTP glue and process composition.
const EDGE: &[&str] = &["crate::http", "crate::runtime", "crate::lambda"];

/// The ports: the traits and key design the core needs from the outside world.
const PORTS: &[&str] = &[
    "crate::store",
    "crate::courier",
    "crate::webhooks",
    "crate::social",
    "crate::images",
];

/// Framework and adapter crates: the edge and the adapters may use them, nothing below may.
const FRAMEWORK_CRATES: &[&str] = &[
    "axum",
    "http",
    "lambda_http",
    "lambda_runtime",
    "tower",
    "tower_http",
    "aws_sdk_dynamodb",
    "aws_sdk_sesv2",
    "aws_sdk_sns",
    "aws_config",
    "rusqlite",
    "hyper",
];

fn is_framework_crate(name: &str) -> bool {
    FRAMEWORK_CRATES.contains(&name) || name.starts_with("aws_smithy_")
}

/// `module` is `prefix` or lies below it (segment-wise: `crate::https` is not under `crate::http`).
fn is_under(module: &str, prefix: &str) -> bool {
    module == prefix
        || module
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with("::"))
}

/// The adapter `module` belongs to, if any.
fn adapter_of(module: &str) -> Option<&'static str> {
    ADAPTERS.iter().copied().find(|a| is_under(module, a))
}

/// The layer of a module; `None` for the crate root, which only declares and re-exports.
fn layer_of(module: &str) -> Option<Layer> {
    let layer = if module == "crate" {
        return None;
    } else if adapter_of(module).is_some() {
        Layer::Adapter
    } else if EDGE.iter().any(|p| is_under(module, p)) {
        Layer::Edge
    } else if is_under(module, "crate::flows") {
        Layer::Flows
    } else if is_under(module, "crate::app") {
        Layer::App
    } else if is_under(module, "crate::repo") {
        Layer::Repo
    } else if PORTS.iter().any(|p| is_under(module, p)) {
        Layer::Ports
    } else {
        Layer::Domain
    };
    Some(layer)
}

/// May module `from` import module `to`?
fn import_allowed(from: &str, to: &str) -> bool {
    let (Some(from_layer), Some(to_layer)) = (layer_of(from), layer_of(to)) else {
        return true;
    };
    if to_layer == Layer::Adapter {
        // Only the edge composes adapters; inside one adapter anything goes.
        return from_layer == Layer::Edge || adapter_of(from) == adapter_of(to);
    }
    if from_layer == Layer::Adapter {
        // Adapters implement ports with domain types, nothing more.
        return to_layer <= Layer::Ports;
    }
    to_layer <= from_layer
}

// ---------------------------------------------------------------------------------------------
// The analysis: pure functions over `(path relative to shared/src, source)` pairs
// ---------------------------------------------------------------------------------------------

/// One dependency between two modules of the crate.
#[derive(Debug, Clone)]
struct Import {
    /// The importing file, relative to `shared/src`.
    file: String,
    line: usize,
    /// The importing module (`crate::flows::sign_in`).
    from: String,
    /// The module imported from: the longest known prefix of the resolved path.
    to: String,
    /// The path as written (`super::client::Current`).
    path: String,
}

/// One use of a framework or adapter crate.
#[derive(Debug, Clone)]
struct CrateUse {
    file: String,
    line: usize,
    module: String,
    krate: String,
    path: String,
}

/// What the source says: the modules, the imports between them, the framework crates used.
#[derive(Debug, Default)]
struct Analysis {
    /// Module path → file (relative to `shared/src`).
    modules: BTreeMap<String, String>,
    /// Imports between distinct modules, excluding the crate root as a target.
    imports: Vec<Import>,
    crate_uses: Vec<CrateUse>,
}

/// `lib.rs` → `crate`, `a.rs` and `a/mod.rs` → `crate::a`, `a/b.rs` → `crate::a::b`.
fn module_path(relative: &str) -> String {
    let stem = relative.strip_suffix(".rs").unwrap_or(relative);
    let stem = stem.strip_suffix("/mod").unwrap_or(stem);
    if stem == "lib" || stem == "mod" {
        return "crate".to_owned();
    }
    format!("crate::{}", stem.replace('/', "::"))
}

/// Reads every file's imports and framework-crate uses.
fn analyze(files: &[(String, String)]) -> Analysis {
    let modules: BTreeMap<String, String> = files
        .iter()
        .filter(|(path, _)| path.ends_with(".rs"))
        .map(|(path, _)| (module_path(path), path.clone()))
        .collect();
    let known: BTreeSet<String> = modules.keys().cloned().collect();
    let mut analysis = Analysis {
        modules,
        ..Analysis::default()
    };
    for (path, source) in files.iter().filter(|(path, _)| path.ends_with(".rs")) {
        scan_file(path, source, &known, &mut analysis);
    }
    analysis
}

/// Imports that point up the layers, or into an adapter from outside the edge.
fn layering_violations(analysis: &Analysis) -> Vec<String> {
    analysis
        .imports
        .iter()
        .filter(|i| !import_allowed(&i.from, &i.to))
        .map(|i| {
            format!(
                "shared/src/{}:{}: `{}` — {} ({}) imports {} ({})",
                i.file,
                i.line,
                i.path,
                i.from,
                layer_name(&i.from),
                i.to,
                layer_name(&i.to),
            )
        })
        .collect()
}

/// Framework or adapter crates used below the adapters and the edge.
fn framework_violations(analysis: &Analysis) -> Vec<String> {
    analysis
        .crate_uses
        .iter()
        .filter(|u| layer_of(&u.module).is_some_and(|l| l <= Layer::Flows))
        .map(|u| {
            format!(
                "shared/src/{}:{}: `{}` — {} ({}) uses the `{}` crate",
                u.file,
                u.line,
                u.path,
                u.module,
                layer_name(&u.module),
                u.krate,
            )
        })
        .collect()
}

/// The module graph: module → the modules it imports.
fn module_graph(analysis: &Analysis) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = analysis
        .modules
        .keys()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    for i in &analysis.imports {
        graph
            .entry(i.from.clone())
            .or_default()
            .insert(i.to.clone());
    }
    graph
}

/// Every strongly connected component of more than one module (each sorted, the list sorted).
fn cycles(analysis: &Analysis) -> Vec<Vec<String>> {
    let mut found: Vec<Vec<String>> = tarjan(&module_graph(analysis))
        .into_iter()
        .filter(|scc| scc.len() > 1)
        .map(|mut scc| {
            scc.sort();
            scc
        })
        .collect();
    found.sort();
    found
}

/// The imports inside a cycle, to say where to cut it.
fn imports_within<'a>(analysis: &'a Analysis, scc: &[String]) -> Vec<&'a Import> {
    analysis
        .imports
        .iter()
        .filter(|i| scc.contains(&i.from) && scc.contains(&i.to))
        .collect()
}

fn layer_name(module: &str) -> String {
    layer_of(module).map_or_else(|| "root".to_owned(), |l| format!("{l:?}").to_lowercase())
}

/// Tarjan's strongly connected components.
fn tarjan(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        next_index: usize,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        components: Vec<Vec<String>>,
    }

    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        s.index.insert(v, s.next_index);
        s.low.insert(v, s.next_index);
        s.next_index += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        let graph = s.graph;
        for w in graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            s.components.push(component);
        }
    }

    let mut state = State {
        graph,
        next_index: 0,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.components
}

// ---------------------------------------------------------------------------------------------
// Reading one file
// ---------------------------------------------------------------------------------------------

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The source with comments and the contents of string and char literals blanked (line numbers
/// kept), cut at the first `#[cfg(test)]` line.
fn code_only(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == '"' {
            out.push('"');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            if i < chars.len() {
                out.push('"');
                i += 1;
            }
        } else if let Some(hashes) = raw_string_start(&chars, i) {
            // r"…", r#"…"#, br#"…"#: no escapes, ends at a quote and as many hashes.
            let open = 1 + hashes + 1;
            out.extend(&chars[i..i + open]);
            i += open;
            while i < chars.len() {
                let closes =
                    chars[i] == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#'));
                if closes {
                    out.extend(&chars[i..i + 1 + hashes]);
                    i += 1 + hashes;
                    break;
                }
                out.push(blank(chars[i]));
                i += 1;
            }
        } else if c == '\'' && next == Some('\\') {
            // An escaped char literal: '\n', '\'', '\u{1F600}'.
            out.push(' ');
            i += 3;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
            out.push_str("  ");
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            // A plain char literal ('"', '/'); anything else after a quote is a lifetime.
            out.push_str("   ");
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    let mut kept = String::with_capacity(out.len());
    for line in out.split_inclusive('\n') {
        if line.trim() == "#[cfg(test)]" {
            break;
        }
        kept.push_str(line);
    }
    kept
}

/// At `i`, a raw string literal starts (`r"`, `r#"`, `br#"`): how many hashes it has.
fn raw_string_start(chars: &[char], i: usize) -> Option<usize> {
    if chars[i] != 'r' {
        return None;
    }
    let starts_word = match i {
        0 => true,
        _ if !is_ident_char(chars[i - 1]) => true,
        1 => chars[0] == 'b',
        _ => chars[i - 1] == 'b' && !is_ident_char(chars[i - 2]),
    };
    if !starts_word {
        return None;
    }
    let hashes = chars[i + 1..].iter().take_while(|&&c| c == '#').count();
    (chars.get(i + 1 + hashes) == Some(&'"')).then_some(hashes)
}

#[derive(Debug)]
struct Token {
    text: String,
    line: usize,
}

/// Identifiers, `::`, and single punctuation characters.
fn tokenize(code: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let text = if c.is_whitespace() {
                i += 1;
                continue;
            } else if is_ident_char(c) {
                let len = chars[i..].iter().take_while(|&&c| is_ident_char(c)).count();
                chars[i..i + len].iter().collect()
            } else if c == ':' && chars.get(i + 1) == Some(&':') {
                "::".to_owned()
            } else {
                c.to_string()
            };
            i += text.chars().count();
            tokens.push(Token { text, line: n + 1 });
        }
    }
    tokens
}

/// One path of a `use` tree, expanded: `use a::{b, c::d as e};` gives `a::b` and `a::c::d`.
#[derive(Debug)]
struct UseLeaf {
    segments: Vec<String>,
    /// The name it brings into scope (none for globs and `_`).
    binding: Option<String>,
    glob: bool,
    line: usize,
}

/// Parses the use tree starting at `tokens[*pos]`, appending its leaves to `out`.
fn parse_use_tree(tokens: &[Token], pos: &mut usize, prefix: &[String], out: &mut Vec<UseLeaf>) {
    let mut segments = prefix.to_vec();
    if tokens.get(*pos).is_some_and(|t| t.text == "::") {
        *pos += 1; // A leading `::`: an external crate, named next.
    }
    while let Some(token) = tokens.get(*pos) {
        match token.text.as_str() {
            "{" => {
                *pos += 1;
                while let Some(t) = tokens.get(*pos) {
                    match t.text.as_str() {
                        "}" => {
                            *pos += 1;
                            break;
                        }
                        "," => *pos += 1,
                        ";" => return,
                        _ => {
                            let before = *pos;
                            parse_use_tree(tokens, pos, &segments, out);
                            if *pos == before {
                                *pos += 1; // Not a use tree: skip it rather than loop.
                            }
                        }
                    }
                }
                return;
            }
            "*" => {
                *pos += 1;
                out.push(UseLeaf {
                    segments,
                    binding: None,
                    glob: true,
                    line: token.line,
                });
                return;
            }
            text if text.starts_with(is_ident_char) => {
                segments.push(text.to_owned());
                *pos += 1;
                if tokens.get(*pos).is_some_and(|t| t.text == "::") {
                    *pos += 1;
                    continue;
                }
                let mut binding = segments.last().cloned();
                if tokens.get(*pos).is_some_and(|t| t.text == "as") {
                    binding = tokens.get(*pos + 1).map(|t| t.text.clone());
                    *pos += 2;
                }
                if segments.last().is_some_and(|s| s == "self") {
                    segments.pop();
                    if binding.as_deref() == Some("self") {
                        binding = segments.last().cloned();
                    }
                }
                out.push(UseLeaf {
                    segments,
                    binding: binding.filter(|b| b != "_"),
                    glob: false,
                    line: token.line,
                });
                return;
            }
            _ => return,
        }
    }
}

/// Where a path leads: into the crate (an absolute `crate::…` path) or to an external crate.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    Internal(Vec<String>),
    External(String),
}

/// What a name brought into scope by a `use` stands for (absolute, or an external path).
type Bindings = BTreeMap<String, Vec<String>>;

/// Resolves `path`, written in `module`, to its target.
fn resolve(
    path: &[String],
    module: &[String],
    bindings: &Bindings,
    known: &BTreeSet<String>,
) -> Option<Target> {
    let first = path.first()?;
    let absolute = |base: &[String], rest: &[String]| {
        let mut abs = base.to_vec();
        abs.extend_from_slice(rest);
        abs
    };
    match first.as_str() {
        "crate" => Some(Target::Internal(path.to_vec())),
        "super" => {
            let ups = path.iter().take_while(|s| *s == "super").count();
            (ups < module.len())
                .then(|| Target::Internal(absolute(&module[..module.len() - ups], &path[ups..])))
        }
        "self" => Some(Target::Internal(absolute(module, &path[1..]))),
        "Self" => None,
        name => {
            if let Some(bound) = bindings.get(name) {
                let full = absolute(bound, &path[1..]);
                return Some(match full.first().map(String::as_str) {
                    Some("crate") => Target::Internal(full),
                    _ => Target::External(full.first()?.clone()),
                });
            }
            let child = format!("{}::{name}", module.join("::"));
            if known.contains(&child) {
                Some(Target::Internal(absolute(module, path)))
            } else {
                Some(Target::External(name.to_owned()))
            }
        }
    }
}

/// The longest prefix of an absolute path that is a module of the crate.
fn owning_module(absolute: &[String], known: &BTreeSet<String>) -> String {
    (1..=absolute.len())
        .rev()
        .map(|n| absolute[..n].join("::"))
        .find(|candidate| known.contains(candidate))
        .unwrap_or_else(|| "crate".to_owned())
}

/// Records one file's imports and framework-crate uses into `analysis`.
fn scan_file(file: &str, source: &str, known: &BTreeSet<String>, analysis: &mut Analysis) {
    let module_name = module_path(file);
    let module: Vec<String> = module_name.split("::").map(str::to_owned).collect();
    let tokens = tokenize(&code_only(source));
    let mut bindings = Bindings::new();
    let mut in_use = vec![false; tokens.len()];

    let record = |target: Target, line: usize, path: String, analysis: &mut Analysis| match target {
        Target::Internal(absolute) => {
            let to = owning_module(&absolute, known);
            if to != "crate" && to != module_name {
                analysis.imports.push(Import {
                    file: file.to_owned(),
                    line,
                    from: module_name.clone(),
                    to,
                    path,
                });
            }
        }
        Target::External(krate) => {
            if is_framework_crate(&krate) {
                analysis.crate_uses.push(CrateUse {
                    file: file.to_owned(),
                    line,
                    module: module_name.clone(),
                    krate,
                    path,
                });
            }
        }
    };

    // `use` declarations first: they bind the names inline paths may start with.
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i].text != "use" {
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        let mut leaves = Vec::new();
        parse_use_tree(&tokens, &mut i, &[], &mut leaves);
        while i < tokens.len() && tokens[i].text != ";" {
            i += 1;
        }
        in_use[start..(i + 1).min(tokens.len())].fill(true);
        for leaf in leaves {
            let Some(target) = resolve(&leaf.segments, &module, &bindings, known) else {
                continue;
            };
            if let Some(name) = &leaf.binding {
                match &target {
                    Target::Internal(absolute) => bindings.insert(name.clone(), absolute.clone()),
                    Target::External(_) => bindings.insert(name.clone(), leaf.segments.clone()),
                };
            }
            let mut written = leaf.segments.join("::");
            if leaf.glob {
                written.push_str("::*");
            }
            record(target, leaf.line, written, analysis);
        }
    }

    // Inline paths: `crate::flows::session::signed_out()`, `super::client::commit(..)`, `axum::…`.
    let mut i = 0;
    while i < tokens.len() {
        let starts_path = !in_use[i]
            && tokens[i].text.starts_with(is_ident_char)
            && tokens.get(i + 1).is_some_and(|t| t.text == "::")
            && (i == 0 || tokens[i - 1].text != "::")
            // `pub(in crate::a)` is a visibility, not an import.
            && !(i >= 2 && tokens[i - 1].text == "in" && tokens[i - 2].text == "(");
        if !starts_path {
            i += 1;
            continue;
        }
        let line = tokens[i].line;
        let mut segments = vec![tokens[i].text.clone()];
        i += 1;
        while tokens.get(i).is_some_and(|t| t.text == "::")
            && tokens
                .get(i + 1)
                .is_some_and(|t| t.text.starts_with(is_ident_char))
        {
            segments.push(tokens[i + 1].text.clone());
            i += 2;
        }
        let Some(target) = resolve(&segments, &module, &bindings, known) else {
            continue;
        };
        // A path through a name a `use` bound says something new only if it reaches a deeper
        // module than the `use` itself (which was recorded already).
        if let Some(bound) = bindings.get(&segments[0]) {
            let Target::Internal(absolute) = &target else {
                continue;
            };
            if owning_module(absolute, known) == owning_module(bound, known) {
                continue;
            }
        }
        record(target, line, segments.join("::"), analysis);
    }
}

// ---------------------------------------------------------------------------------------------
// The real tree
// ---------------------------------------------------------------------------------------------

const SHARED_SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/src");

/// Every `.rs` file under `shared/src`, as (path relative to it with `/`, source).
fn load_shared_src() -> Vec<(String, String)> {
    fn walk(dir: &Path, relative: &str, out: &mut Vec<(String, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let rel = if relative.is_empty() {
                name
            } else {
                format!("{relative}/{name}")
            };
            if path.is_dir() {
                walk(&path, &rel, out);
            } else if rel.ends_with(".rs") {
                let source = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
                out.push((rel, source));
            }
        }
    }
    let mut files = Vec::new();
    walk(Path::new(SHARED_SRC), "", &mut files);
    files
}

fn analyze_shared() -> Analysis {
    let analysis = analyze(&load_shared_src());
    // Guard against checking nothing (a moved directory would make every rule pass).
    for module in ["crate", "crate::flows", "crate::http", "crate::store"] {
        assert!(
            analysis.modules.contains_key(module),
            "{module} not found under {SHARED_SRC}"
        );
    }
    assert!(
        !analysis.imports.is_empty(),
        "no imports found under {SHARED_SRC}"
    );
    analysis
}

fn assert_none(what: &str, violations: &[String]) {
    assert!(
        violations.is_empty(),
        "{what} ({}):\n{}",
        violations.len(),
        violations.join("\n")
    );
}

#[test]
fn flows_and_domain_import_no_framework_or_adapter() {
    let analysis = analyze_shared();
    assert_none(
        "framework or adapter crates used below the edge and the adapters",
        &framework_violations(&analysis),
    );
}

#[test]
fn imports_point_down_the_layers() {
    let analysis = analyze_shared();
    assert_none(
        "imports against the layering (edge → flows → app → repo → ports → domain; \
         adapters only from the edge)",
        &layering_violations(&analysis),
    );
}

#[test]
fn module_graph_has_no_cycles() {
    let analysis = analyze_shared();
    let report: Vec<String> = cycles(&analysis)
        .iter()
        .map(|scc| {
            let edges: Vec<String> = imports_within(&analysis, scc)
                .iter()
                .map(|i| {
                    format!(
                        "    shared/src/{}:{}: `{}` ({} → {})",
                        i.file, i.line, i.path, i.from, i.to
                    )
                })
                .collect();
            format!("cycle: {}\n{}", scc.join(", "), edges.join("\n"))
        })
        .collect();
    assert_none("module cycles", &report);
}

// ---------------------------------------------------------------------------------------------
// The checker itself
// ---------------------------------------------------------------------------------------------

fn fake(files: &[(&str, &str)]) -> Vec<(String, String)> {
    files
        .iter()
        .map(|(path, source)| ((*path).to_owned(), (*source).to_owned()))
        .collect()
}

fn edges(analysis: &Analysis) -> BTreeSet<(String, String)> {
    analysis
        .imports
        .iter()
        .map(|i| (i.from.clone(), i.to.clone()))
        .collect()
}

fn pair(from: &str, to: &str) -> (String, String) {
    (from.to_owned(), to.to_owned())
}

#[test]
fn the_checker_catches_violations() {
    assert_eq!(module_path("lib.rs"), "crate");
    assert_eq!(module_path("a.rs"), "crate::a");
    assert_eq!(module_path("a/mod.rs"), "crate::a");
    assert_eq!(module_path("a/b.rs"), "crate::a::b");

    // (i) A flow naming the HTTP glue, in a plain `use` and in a nested group over lines.
    let tree = fake(&[
        ("lib.rs", "pub mod error;\npub mod flows;\npub mod http;\n"),
        ("error.rs", "pub struct Error;\n"),
        ("http/mod.rs", "pub struct Params;\npub struct Field;\n"),
        ("flows/mod.rs", "pub mod sign_in;\npub mod sign_up;\n"),
        ("flows/sign_in.rs", "use crate::http::Params;\n"),
        (
            "flows/sign_up.rs",
            "use crate::{\n    error::Error,\n    http::{self, Field},\n};\n",
        ),
    ]);
    let analysis = analyze(&tree);
    let violations = layering_violations(&analysis);
    assert!(
        violations
            .iter()
            .any(|v| v.starts_with("shared/src/flows/sign_in.rs:1:")
                && v.contains("crate::http::Params")),
        "{violations:#?}"
    );
    assert!(
        violations
            .iter()
            .any(|v| v.starts_with("shared/src/flows/sign_up.rs:3:")
                && v.contains("crate::http::Field")),
        "{violations:#?}"
    );
    assert!(
        !violations.iter().any(|v| v.contains("crate::error")),
        "flows may import the domain: {violations:#?}"
    );
    // `crate::http` is the internal module, not the `http` crate.
    assert!(framework_violations(&analysis).is_empty());

    // (ii) The domain using a framework crate, in a `use` and inline.
    let tree = fake(&[
        ("lib.rs", "pub mod settings;\npub mod flows;\n"),
        ("settings.rs", "use axum::Router;\n"),
        (
            "flows/mod.rs",
            "pub fn status() -> u16 {\n    http::StatusCode::OK.as_u16()\n}\n",
        ),
    ]);
    let violations = framework_violations(&analyze(&tree));
    assert_eq!(violations.len(), 2, "{violations:#?}");
    assert!(
        violations
            .iter()
            .any(|v| v.starts_with("shared/src/settings.rs:1:") && v.contains("`axum`"))
    );
    assert!(
        violations
            .iter()
            .any(|v| v.contains("flows/mod.rs:2:") && v.contains("`http`"))
    );

    // Adapters: only the edge names them, and they use only domain and ports.
    let tree = fake(&[
        ("lib.rs", ""),
        ("store/mod.rs", "pub mod sqlite;\npub trait ItemStore {}\n"),
        (
            "store/sqlite.rs",
            "use rusqlite::Connection;\nuse super::ItemStore;\nuse crate::repo::Repo;\n",
        ),
        ("repo.rs", "pub struct Repo;\n"),
        ("app.rs", "use crate::store::sqlite::SqliteStore;\n"),
        (
            "runtime.rs",
            "fn open() { crate::store::sqlite::SqliteStore::open(); }\n",
        ),
    ]);
    let analysis = analyze(&tree);
    let violations = layering_violations(&analysis);
    assert_eq!(violations.len(), 2, "{violations:#?}");
    assert!(
        violations
            .iter()
            .any(|v| v.starts_with("shared/src/app.rs:1:"))
    );
    assert!(
        violations
            .iter()
            .any(|v| v.starts_with("shared/src/store/sqlite.rs:3:"))
    );
    assert!(framework_violations(&analysis).is_empty());

    // (iii) Two modules importing each other, and a parent re-exporting a child that imports
    // from the parent.
    let tree = fake(&[
        (
            "lib.rs",
            "pub mod a;\npub mod b;\npub mod store;\npub use a::A;\n",
        ),
        ("a.rs", "use crate::b::B;\npub struct A;\n"),
        (
            "b.rs",
            "pub struct B;\npub fn a() -> crate::a::A {\n    todo!()\n}\n",
        ),
        (
            "store/mod.rs",
            "pub mod keys;\npub use keys::Kind;\npub struct Key;\n",
        ),
        ("store/keys.rs", "use super::Key;\npub enum Kind {}\n"),
    ]);
    assert_eq!(
        cycles(&analyze(&tree)),
        vec![
            vec!["crate::a".to_owned(), "crate::b".to_owned()],
            vec!["crate::store".to_owned(), "crate::store::keys".to_owned()],
        ]
    );

    // (iv) Comments, strings and test modules import nothing.
    let tree = fake(&[
        ("lib.rs", "pub mod flows;\npub mod http;\n"),
        ("http/mod.rs", "pub struct Params;\n"),
        (
            "flows/mod.rs",
            concat!(
                "//! Never `use crate::http::Params;` here.\n",
                "// use crate::http::Params;\n",
                "/// See crate::http::Params and axum::Router.\n",
                "pub fn f() -> &'static str {\n",
                "    let _c = '\"';\n",
                "    \"crate::http::Params axum::Router\" // crate::http::Params\n",
                "}\n",
                "pub const R: &str = r#\"use crate::http::Params; \"axum::Router\"\"#;\n",
                "#[cfg(test)]\n",
                "mod tests {\n",
                "    use crate::http::Params;\n",
                "    use axum::Router;\n",
                "}\n",
            ),
        ),
    ]);
    let analysis = analyze(&tree);
    assert!(analysis.imports.is_empty(), "{:#?}", analysis.imports);
    assert!(analysis.crate_uses.is_empty(), "{:#?}", analysis.crate_uses);

    // Resolution: `super::` from a file and from a `mod.rs`, the longest known module prefix,
    // names bound by a `use`, self-edges and the crate root dropped.
    let tree = fake(&[
        (
            "lib.rs",
            "pub mod flows;\npub mod model;\npub mod error;\npub use error::Error;\n",
        ),
        ("error.rs", "pub struct Error;\n"),
        ("model/mod.rs", "pub mod records;\npub mod wire {}\n"),
        ("model/records.rs", "pub struct UserRecord;\n"),
        (
            "flows/mod.rs",
            "pub mod client;\npub mod session;\npub mod me;\nuse super::model;\n",
        ),
        ("flows/client.rs", "pub struct Current;\n"),
        (
            "flows/session.rs",
            concat!(
                "use crate::Error;\n",
                "use self::inner::X;\n",
                "pub fn signed_out() -> crate::flows::session::Out { todo!() }\n",
            ),
        ),
        (
            "flows/me.rs",
            concat!(
                "use super::client::{self, Current};\n",
                "use crate::model;\n",
                "fn f(u: &model::records::UserRecord, w: crate::model::wire::Sig) {\n",
                "    super::session::signed_out();\n",
                "    client::render();\n",
                "}\n",
            ),
        ),
    ]);
    assert_eq!(
        edges(&analyze(&tree)),
        BTreeSet::from([
            pair("crate", "crate::error"),
            pair("crate::flows", "crate::model"),
            pair("crate::flows::me", "crate::flows::client"),
            pair("crate::flows::me", "crate::flows::session"),
            pair("crate::flows::me", "crate::model"),
            pair("crate::flows::me", "crate::model::records"),
        ])
    );
}
