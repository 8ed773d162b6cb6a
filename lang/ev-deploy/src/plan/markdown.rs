//! The plan as Markdown, for a pull-request comment (`ev plan --format
//! markdown`): the totals, the changes per layer, each changed action with
//! its items (folded), the blast radius of the change from the model's
//! references, what is known only after apply and what stands in.
//!
//! Every name and value in it comes from the repository or a tool, so all
//! of it is escaped: text outside code blocks has HTML and Markdown
//! punctuation escaped, and a code block's fence is longer than any run of
//! backticks inside it. Control characters never reach the comment.

use std::collections::{BTreeMap, BTreeSet};

use ev_core::model::{Model, ResourceKey};

use super::diff::{layer_changes, totals, Change, Plan};
use super::ActionGraph;

/// Where file references link to: `None` writes `file:line` as text;
/// `Some(base)` links `base/file#Lline` (a repository's blob URL at the
/// commit, e.g. `https://github.com/me/everything/blob/<sha>`).
pub type LinkBase<'a> = Option<&'a str>;

/// The most a pull-request comment holds (GitHub: 65,536 characters),
/// with room for a bot's own header.
pub const COMMENT_LIMIT: usize = 60_000;

/// Resources named beside an action (a cluster's apply realizes dozens).
const SHOWN_RESOURCES: usize = 3;

/// How much of each changed item a rendering shows.
#[derive(Clone, Copy, PartialEq)]
enum Items {
    /// Every item with its values.
    WithValues,
    /// Every item, one line each.
    Labels,
}

/// The plan as Markdown; `title` heads it (`ev plan`, `ev -e staging plan`).
/// A plan too large for a comment ([`COMMENT_LIMIT`]) shows its items
/// without their values, and says so.
pub fn render_markdown(
    plan: &Plan,
    graph: &ActionGraph,
    model: &Model,
    title: &str,
    links: LinkBase<'_>,
) -> String {
    let full = render(plan, graph, model, title, links, Items::WithValues);
    if full.chars().count() <= COMMENT_LIMIT {
        return full;
    }
    let mut short = render(plan, graph, model, title, links, Items::Labels);
    short.push_str(
        "_The items' values are left out to fit a comment: `ev plan` shows them, and `ev plan --format json` has them all._\n",
    );
    short
}

fn render(
    plan: &Plan,
    graph: &ActionGraph,
    model: &Model,
    title: &str,
    links: LinkBase<'_>,
    items: Items,
) -> String {
    let mut out = format!("### {}\n\n", text(title));
    let (layers, counted) = layer_changes(plan);
    let summary = totals(plan, counted);
    out.push_str(&format!("**{}**\n\n", text(summary.trim_end())));
    if !layers.is_empty() {
        out.push_str("| layer | changes | actions |\n|---|---|---|\n");
        for l in &layers {
            out.push_str(&format!(
                "| {} | {} | {} |\n",
                text(&l.layer),
                text(&l.items),
                l.actions
            ));
        }
        out.push('\n');
    }
    let changed: Vec<_> = plan
        .actions
        .iter()
        .filter(|a| a.change != Change::None)
        .collect();
    if !changed.is_empty() {
        out.push_str("#### Changes\n\n");
    }
    for a in &changed {
        let what = match a.change {
            Change::Create => "create",
            Change::Update => "update",
            Change::Delete => "delete",
            Change::None => "",
        };
        let resources = resources_of(graph, &a.id);
        let mut realizes: Vec<String> = resources
            .iter()
            .take(SHOWN_RESOURCES)
            .map(|k| resource_ref(model, k, links))
            .collect();
        if resources.len() > SHOWN_RESOURCES {
            realizes.push(format!("and {} more", resources.len() - SHOWN_RESOURCES));
        }
        out.push_str(&format!(
            "<details><summary><code>{} {}</code> {} {}{}{}</summary>\n\n",
            a.change.symbol(),
            text(&a.id),
            text(&a.backend),
            what,
            if a.protected { " (protected)" } else { "" },
            if realizes.is_empty() {
                String::new()
            } else {
                format!(": {}", realizes.join(", "))
            }
        ));
        let mut lines = Vec::new();
        for item in &a.items {
            lines.push(format!("{} {}", diff_sign(item.change), item.label));
            if items == Items::WithValues {
                lines.extend(item.details.iter().map(|d| format!("    {d}")));
            }
        }
        out.push_str(&code_block("diff", &lines.join("\n")));
        out.push_str("\n</details>\n\n");
    }
    if !plan.moved.is_empty() || !plan.forgotten.is_empty() {
        out.push_str("#### Records moved and forgotten (the state only: nothing is destroyed)\n\n");
        for m in &plan.moved {
            out.push_str(&format!(
                "- <code>{}</code> moved to <code>{}</code> ({}, by {})\n",
                text(&m.from),
                text(&m.to),
                text(&m.backend),
                text(&m.by)
            ));
        }
        for f in &plan.forgotten {
            out.push_str(&format!(
                "- <code>{}</code> forgotten: what it applied is left as it is ({}, by {})\n",
                text(&f.id),
                text(&f.backend),
                text(&f.by)
            ));
        }
        out.push('\n');
    }
    blast_radius(&mut out, plan, graph, model, links);
    let waiting: Vec<_> = changed
        .iter()
        .filter(|a| !a.replanned_after.is_empty())
        .collect();
    if !waiting.is_empty() {
        out.push_str("#### Known after apply\n\n");
        for a in waiting {
            let after: Vec<String> = a
                .replanned_after
                .iter()
                .map(|p| format!("<code>{}</code>", text(p)))
                .collect();
            let verb = if after.len() == 1 { "has" } else { "have" };
            out.push_str(&format!(
                "- <code>{}</code> renders values known only once {} {verb} run; it is planned again then\n",
                text(&a.id),
                after.join(", ")
            ));
        }
        out.push('\n');
    }
    if !plan.stand_ins.is_empty() {
        out.push_str("#### Not applied in this environment\n\n");
        for s in &plan.stand_ins {
            out.push_str(&format!("- {}: {}\n", text(&s.resource), text(&s.note)));
        }
        out.push('\n');
    }
    out
}

/// Every resource that reads (transitively) a resource of a changed
/// action, with what it reads: why other actions change with it, and what
/// else a reviewer should look at. Resources of the same action reading
/// each other (a cluster's apps and the cluster) are left out.
fn blast_radius(
    out: &mut String,
    plan: &Plan,
    graph: &ActionGraph,
    model: &Model,
    links: LinkBase<'_>,
) {
    let action_of: BTreeMap<ResourceKey, String> = graph
        .ordered()
        .into_iter()
        .flat_map(|a| a.resources.iter().map(move |k| (k.clone(), a.id.clone())))
        .collect();
    let changed: BTreeSet<ResourceKey> = plan
        .actions
        .iter()
        .filter(|a| a.change != Change::None)
        .flat_map(|a| resources_of(graph, &a.id))
        .collect();
    let mut reached: BTreeMap<ResourceKey, BTreeSet<ResourceKey>> = BTreeMap::new();
    for key in &changed {
        for user in model.transitive(key, true) {
            let same_action = action_of
                .get(&user)
                .is_some_and(|a| action_of.get(key) == Some(a));
            if !same_action {
                reached.entry(user).or_default().insert(key.clone());
            }
        }
    }
    if reached.is_empty() {
        return;
    }
    out.push_str(
        "#### Blast radius\n\nResources that read what changes (from the model's references; a resource of another action that is not planned may still behave differently once this is applied):\n\n",
    );
    for (user, because) in &reached {
        let because: Vec<String> = because
            .iter()
            .map(|k| format!("<code>{}</code>", text(&format!("{}.{}", k.kind, k.name))))
            .collect();
        out.push_str(&format!(
            "- {} uses {}\n",
            resource_ref(model, user, links),
            because.join(", ")
        ));
    }
    out.push('\n');
}

/// The resources an action realizes (none for a deletion: no longer declared).
fn resources_of(graph: &ActionGraph, id: &str) -> Vec<ResourceKey> {
    graph
        .get(id)
        .map(|a| a.resources.clone())
        .unwrap_or_default()
}

/// `kind.name` with where it is declared, linked when a base is given.
fn resource_ref(model: &Model, key: &ResourceKey, links: LinkBase<'_>) -> String {
    let name = format!(
        "<code>{}</code>",
        text(&format!("{}.{}", key.kind, key.name))
    );
    let Some(r) = model.resource(key) else {
        return name;
    };
    let at = format!("{}:{}", r.file, r.line);
    match links {
        Some(base) => format!(
            "{name} ([{}]({}/{}#L{}))",
            text(&at),
            base.trim_end_matches('/'),
            url_path(&r.file),
            r.line
        ),
        None => format!("{name} ({})", text(&at)),
    }
}

/// The diff sign of an item's change.
fn diff_sign(change: Change) -> char {
    match change {
        Change::Create => '+',
        Change::Delete => '-',
        Change::Update => '~',
        Change::None => ' ',
    }
}

/// Text for Markdown outside code: control characters dropped, HTML's
/// `&`, `<`, `>` as entities and every other ASCII punctuation escaped
/// with a backslash, so no name can open a link, a tag or emphasis.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if c.is_control() => {}
            c if c.is_ascii_punctuation() => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A fenced code block whose fence no line of `body` can close: one
/// backtick longer than the longest run inside (at least three).
pub fn code_block(lang: &str, body: &str) -> String {
    let body: String = body
        .chars()
        .filter(|c| *c == '\n' || *c == '\t' || !c.is_control())
        .collect();
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat((longest + 1).max(3));
    format!("{fence}{lang}\n{body}\n{fence}\n")
}

/// A repository path in a URL: each segment percent-encoded.
fn url_path(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            segment
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_cannot_open_markup() {
        assert_eq!(
            text("<img src=x onerror=alert(1)> [a](b) *x* `c`"),
            "&lt;img src\\=x onerror\\=alert\\(1\\)&gt; \\[a\\]\\(b\\) \\*x\\* \\`c\\`"
        );
        assert_eq!(text("a\u{1b}[31mb\n"), "a\\[31mb");
    }

    #[test]
    fn a_code_block_cannot_be_closed_from_inside() {
        let block = code_block("diff", "+ x\n```\n````evil");
        assert!(block.starts_with("`````diff\n"), "{block}");
        assert!(block.ends_with("\n`````\n"), "{block}");
    }

    #[test]
    fn paths_are_encoded_in_links() {
        assert_eq!(url_path("eight/yuto sh.ev"), "eight/yuto%20sh.ev");
        assert_eq!(url_path("a/b(c).ev"), "a/b%28c%29.ev");
    }
}
