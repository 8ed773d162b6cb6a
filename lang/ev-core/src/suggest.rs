//! "Did you mean" suggestions for misspelt names.

/// The candidates closest to `name` (edit distance at most a third of its
/// length, at least 1; a swap of two letters is one edit), best first, at
/// most three. When none is that close, those it starts with or that start
/// with it (`lenght` → `len`).
pub fn similar<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let limit = (name.chars().count() / 3).max(1);
    let candidates: Vec<&str> = candidates.into_iter().filter(|c| *c != name).collect();
    let mut scored: Vec<(usize, &str)> = candidates
        .iter()
        .map(|c| (distance(name, c), *c))
        .filter(|(d, c)| *d <= limit || c.eq_ignore_ascii_case(name))
        .collect();
    if scored.is_empty() {
        let prefix =
            |c: &str| c.len().min(name.len()) >= 3 && (name.starts_with(c) || c.starts_with(name));
        scored = candidates
            .iter()
            .filter(|c| prefix(c))
            .map(|c| (distance(name, c), *c))
            .collect();
    }
    scored.sort();
    scored.dedup();
    scored
        .into_iter()
        .take(3)
        .map(|(_, c)| c.to_string())
        .collect()
}

/// Edit distance over chars where swapping two adjacent characters counts
/// as one edit (optimal string alignment): `eigth` is one edit from `eight`.
fn distance(a: &str, b: &str) -> usize {
    strsim::osa_distance(a, b)
}

/// Formats suggestions as a help line.
pub fn did_you_mean(suggestions: &[String]) -> Option<String> {
    match suggestions {
        [] => None,
        [one] => Some(format!("did you mean `{one}`?")),
        many => Some(format!(
            "did you mean one of {}?",
            many.iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names() {
        assert_eq!(
            similar("platfrom", ["platform", "tags", "name"]),
            vec!["platform"]
        );
        assert!(similar("x", ["completely", "different"]).is_empty());
        assert_eq!(similar("eigth", ["eight", "venus"]), vec!["eight"]);
        // A longer spelling of a short name, after closer matches.
        assert_eq!(similar("lenght", ["len", "lower"]), vec!["len"]);
        assert_eq!(similar("lenght", ["length", "len"]), vec!["length"]);
        assert!(similar("ab", ["abcdef"]).is_empty());
    }
}
