//! The documentation stays true: README.md and docs/*.md link only to what exists, their samples are
//! what the binary prints, docs/rules.md is what `rules -o markdown` prints, the module map in
//! docs/architecture.md names every source file there is, and no source file grows past 600 lines.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::{command, output, run};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// README.md and every page under docs/.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

fn shown(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The lines of a Markdown page outside fenced code blocks, with their line numbers.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut fence: Option<String> = None;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let ticks: String = trimmed.chars().take_while(|&c| c == '`').collect();
        if ticks.len() >= 3 {
            match &fence {
                None => fence = Some(ticks),
                Some(open) if ticks.len() >= open.len() && trimmed.trim() == ticks => fence = None,
                Some(_) => {}
            }
            continue;
        }
        if fence.is_none() && !line.starts_with("    ") {
            out.push((i + 1, line));
        }
    }
    out
}

/// Inline code spans removed, so that `[x](y)` written as code is not taken for a link.
fn without_code(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let run = rest[start..].chars().take_while(|&c| c == '`').count();
        let after = &rest[start + run..];
        let delim = "`".repeat(run);
        match after.find(&delim) {
            Some(end) => rest = &after[end + run..],
            None => {
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens; a repeated
/// heading gets `-1`, `-2`, ...
fn slug(heading: &str) -> String {
    without_code_marks(heading)
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn without_code_marks(heading: &str) -> String {
    // A link in a heading counts by its text.
    let mut text = heading.replace('`', "");
    while let (Some(open), Some(mid)) = (text.find('['), text.find("](")) {
        let Some(close) = text[mid..].find(')') else {
            break;
        };
        if open > mid {
            break;
        }
        text = format!(
            "{}{}{}",
            &text[..open],
            &text[open + 1..mid],
            &text[mid + close + 1..]
        );
    }
    text
}

fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    for (_, line) in prose_lines(text) {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let base = slug(line[hashes..].trim());
        let n = seen.entry(base.clone()).or_insert(0);
        out.insert(if *n == 0 {
            base.clone()
        } else {
            format!("{base}-{n}")
        });
        *n += 1;
    }
    out
}

/// Every link target of a page: `[text](target)` and `[label]: target`, outside code.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in prose_lines(text) {
        let line = without_code(line);
        let mut rest = line.as_str();
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let end = after.find(')').unwrap_or(after.len());
            let target = after[..end].split_whitespace().next().unwrap_or("");
            out.push((n, target.trim_matches(['<', '>']).to_string()));
            rest = &after[end..];
        }
        let t = line.trim_start();
        if t.starts_with('[')
            && let Some(i) = t.find("]: ")
        {
            out.push((n, t[i + 3..].split_whitespace().next().unwrap_or("").into()));
        }
    }
    out
}

#[test]
fn every_link_and_anchor_resolves() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = read(&page);
        for (line, target) in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, anchor) = match target.split_once('#') {
                Some((p, a)) => (p, Some(a)),
                None => (target.as_str(), None),
            };
            let file = if path.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(path)
            };
            let at = format!("{}:{line}: {target}", shown(&page));
            if !file.exists() {
                broken.push(format!("{at}: {} does not exist", shown(&file)));
                continue;
            }
            if let Some(anchor) = anchor {
                if file.extension().is_none_or(|x| x != "md") {
                    broken.push(format!("{at}: an anchor into a file that is not Markdown"));
                } else if !anchors(&read(&file)).contains(anchor) {
                    broken.push(format!(
                        "{at}: no heading of {} has the anchor #{anchor}",
                        shown(&file)
                    ));
                }
            }
        }
    }
    assert!(
        checked > 20,
        "only {checked} links found: is the parser broken?"
    );
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// A page no one links is a page a newcomer never finds: the README links every page of docs/.
#[test]
fn readme_links_every_page_of_docs() {
    let readme = read(&root().join("README.md"));
    let linked: BTreeSet<String> = links(&readme)
        .into_iter()
        .map(|(_, t)| t.split('#').next().unwrap_or("").to_string())
        .collect();
    let unlinked: Vec<String> = pages()
        .iter()
        .skip(1)
        .map(|p| shown(p))
        .filter(|p| !linked.contains(p))
        .collect();
    assert!(
        unlinked.is_empty(),
        "README.md does not link {}: add each to its \"Read more\" table (or where a newcomer \
         looks for it)",
        unlinked.join(", ")
    );
}

#[test]
fn the_link_checker_sees_what_github_sees() {
    assert_eq!(slug("Exit status"), "exit-status");
    assert_eq!(slug("JSON (`-o json`)"), "json--o-json");
    assert_eq!(slug("Tests: what runs where"), "tests-what-runs-where");
    assert_eq!(slug("安装 kubectl-bkdoctor"), "安装-kubectl-bkdoctor");
    let page = "# A\n\n## Usage\n\n```\n## Not a heading\n[not](a-link.md)\n```\n\n## Usage\n";
    let a = anchors(page);
    assert!(a.contains("usage") && a.contains("usage-1") && !a.contains("not-a-heading"));
    let l = links("see [a](b.md#c) and `[x](y.md)`, [d](<e f.md>)\n\n[r]: g.md\n");
    let targets: Vec<&str> = l.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(targets, ["b.md#c", "e", "g.md"]);
}

/// The README is what a newcomer reads first; what does not fit goes to docs/.
#[test]
fn readme_is_short_and_starts_with_the_two_commands() {
    let readme = read(&root().join("README.md"));
    assert!(
        readme.len() <= 12 * 1024,
        "README.md is {} bytes; keep it to 12 KiB and move the rest into docs/",
        readme.len()
    );
    let head: Vec<&str> = readme.lines().take(4).collect();
    assert!(
        head[2].starts_with("    cargo run -- check --snapshot examples/snapshot ")
            && head[3].starts_with("    cargo test "),
        "the README opens with the two commands:\n{}",
        head.join("\n")
    );
}

/// Every sample in README.md and docs/ is real output. A sample is marked with
/// a line `<!-- sample at N columns: tests/docs.rs ... -->` before a fenced block whose first line is
/// `$ kubectl bkdoctor ARGS`; the rest of the block is what the binary prints at N columns.
/// Regenerate one with `COLUMNS=N cargo run -q -- ARGS`.
#[test]
fn every_sample_is_what_the_binary_prints() {
    let mut samples = 0;
    for page in pages() {
        let text = read(&page);
        let mut rest = text.as_str();
        // A marker opens its line; one quoted in prose or code is not a marker.
        while let Some(i) = rest.find("\n<!-- sample at ") {
            rest = &rest[i + "\n<!-- sample at ".len()..];
            let columns: String = rest.chars().take_while(char::is_ascii_digit).collect();
            assert!(
                rest[columns.len()..].starts_with(" columns"),
                "{}: a sample marker reads `<!-- sample at N columns ...`",
                shown(&page)
            );
            let block = &rest[rest.find("```").expect("a fenced block follows the marker")..];
            let body = &block[block.find('\n').unwrap() + 1..];
            let (command_line, body) = body.split_once('\n').unwrap();
            let args = command_line
                .strip_prefix("$ kubectl bkdoctor ")
                .unwrap_or_else(|| {
                    panic!(
                        "{}: a sample starts `$ kubectl bkdoctor ARGS`, not {command_line:?}",
                        shown(&page)
                    )
                });
            assert!(
                !args.contains(['\'', '"', '|', '>']),
                "{}: sample arguments are plain words: {args}",
                shown(&page)
            );
            let sample = &body[..body.find("```").unwrap()];
            let args: Vec<&str> = args.split_whitespace().collect();
            let mut c = command(&args);
            c.current_dir(root()).env("COLUMNS", &columns);
            let real = output(c);
            assert!(
                real.stderr.is_empty() && real.code != 2,
                "{}: {command_line} failed ({}): {}",
                shown(&page),
                real.code,
                real.stderr
            );
            assert_eq!(
                sample,
                real.stdout,
                "{}: the sample of `{command_line}` is not what the binary prints at {columns} \
                 columns; regenerate it with `COLUMNS={columns} cargo run -q -- {}`",
                shown(&page),
                args.join(" ")
            );
            samples += 1;
            rest = &body[body.find("```").unwrap()..];
        }
    }
    assert!(samples >= 1, "the README shows at least one real sample");
}

/// docs/rules.md and docs/rules.zh.md are `rules -o markdown`, committed so that they read on
/// GitHub; they never differ from what the catalog says.
#[test]
fn rule_reference_is_what_the_binary_prints() {
    for (lang, file) in [("en", "docs/rules.md"), ("zh", "docs/rules.zh.md")] {
        let real = run(&["rules", "-o", "markdown", "--lang", lang]);
        assert_eq!(real.code, 0, "{}", real.stderr);
        let committed = std::fs::read_to_string(root().join(file)).unwrap_or_default();
        assert!(
            committed == real.stdout,
            "{file} differs from what the binary prints; regenerate it with\n  \
             cargo run -q -- rules -o markdown --lang {lang} > {file}"
        );
    }
    let en = read(&root().join("docs/rules.md"));
    for id in [
        "dns-unresolvable",
        "helm-operation-in-progress",
        "pod-crash-loop",
    ] {
        assert!(anchors(&en).contains(id), "docs/rules.md#{id}");
    }
}

/// Source files and module directories under src/ and crates/*/src, as the module map names them:
/// `src/app.rs`, `src/collect/` (a directory ends with `/`).
fn source_tree() -> BTreeSet<String> {
    fn walk(dir: &Path, out: &mut BTreeSet<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let name = p.strip_prefix(root()).unwrap().display().to_string();
            if p.is_dir() {
                out.insert(format!("{name}/"));
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.insert(name);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(&root().join("src"), &mut out);
    for e in std::fs::read_dir(root().join("crates")).unwrap() {
        let src = e.unwrap().path().join("src");
        if src.is_dir() {
            out.insert(format!("{}/", shown(&src)));
            walk(&src, &mut out);
        }
    }
    out
}

/// The module map: the table under `## Module map` in docs/architecture.md. The first cell of each
/// row holds one or more paths in backticks; the second says what they do.
fn module_map() -> BTreeSet<String> {
    let text = read(&root().join("docs/architecture.md"));
    let start = text
        .find("\n## Module map\n")
        .expect("docs/architecture.md has a `## Module map` section");
    let section = &text[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut out = BTreeSet::new();
    for line in section.lines().filter(|l| l.starts_with('|')) {
        let first = line.split('|').nth(1).unwrap_or("");
        for (i, part) in first.split('`').enumerate() {
            if i % 2 == 1 {
                out.insert(part.to_string());
            }
        }
    }
    out
}

#[test]
fn module_map_matches_the_source_tree() {
    let tree = source_tree();
    let map = module_map();
    let missing: Vec<String> = tree
        .difference(&map)
        .map(|p| {
            let file = match p.strip_suffix('/') {
                Some(dir) => root().join(dir).join("mod.rs"),
                None => root().join(p),
            };
            let doc = std::fs::read_to_string(file)
                .ok()
                .and_then(|t| {
                    t.lines()
                        .find_map(|l| l.strip_prefix("//! ").map(str::to_string))
                })
                .unwrap_or_default();
            format!("| `{p}` | {doc} |")
        })
        .collect();
    let stale: Vec<&String> = map.difference(&tree).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "docs/architecture.md's module map and the source tree differ.\n\
         Not in the map (add a row; the file's first //! line is a start):\n{}\n\
         In the map but not in the tree (remove or rename the row):\n{}",
        missing.join("\n"),
        stale
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Files still being split into files of one job. This list must shrink to empty: a file leaves it
/// when it is split, and none is ever added.
const OVER_600_FOR_NOW: &[&str] = &[
    "src/collect/live/api.rs",
    "src/collect/ingest.rs",
    "src/probe/mod.rs",
    "crates/fake-apiserver/src/server.rs",
    "crates/fake-apiserver/src/lib.rs",
    "crates/fake-apiserver/tests/api.rs",
];

#[test]
fn no_source_file_is_over_600_lines() {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root().join("src"), &mut files);
    walk(&root().join("crates"), &mut files);
    assert!(files.len() > 50, "only {} source files found", files.len());
    let mut over = Vec::new();
    let mut split: Vec<String> = OVER_600_FOR_NOW
        .iter()
        .filter(|f| !root().join(f).exists())
        .map(|f| f.to_string())
        .collect();
    for f in files {
        let name = shown(&f);
        let lines = read(&f).lines().count();
        let allowed = OVER_600_FOR_NOW.contains(&name.as_str());
        if lines > 600 && !allowed {
            over.push(format!("{name}: {lines} lines"));
        }
        if lines <= 600 && allowed {
            split.push(name);
        }
    }
    assert!(
        over.is_empty(),
        "over 600 lines: split by job, each file with a //! doc saying what it does:\n{}",
        over.join("\n")
    );
    assert!(
        split.is_empty(),
        "split (600 lines or fewer, or gone): remove from OVER_600_FOR_NOW in tests/docs.rs: {}",
        split.join(", ")
    );
}
