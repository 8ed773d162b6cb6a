//! The standard library, embedded in the binary so `ev` works on any
//! repository. Its files are shown to users under `stdlib/`.

/// (display path, text) of every standard library file, in load order.
pub const FILES: &[(&str, &str)] = &[
    ("stdlib/core.ev", include_str!("../../../stdlib/core.ev")),
    ("stdlib/env.ev", include_str!("../../../stdlib/env.ev")),
    (
        "stdlib/machine.ev",
        include_str!("../../../stdlib/machine.ev"),
    ),
    ("stdlib/dns.ev", include_str!("../../../stdlib/dns.ev")),
    ("stdlib/stack.ev", include_str!("../../../stdlib/stack.ev")),
    ("stdlib/image.ev", include_str!("../../../stdlib/image.ev")),
    (
        "stdlib/cluster.ev",
        include_str!("../../../stdlib/cluster.ev"),
    ),
    (
        "stdlib/refactor.ev",
        include_str!("../../../stdlib/refactor.ev"),
    ),
];

#[cfg(test)]
mod tests {
    /// Every file of the repository's stdlib/ is embedded, and nothing else.
    #[test]
    fn embedded_files_match_the_stdlib_folder() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../stdlib");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| format!("stdlib/{}", e.file_name().to_string_lossy()))
                    .filter(|p| p.ends_with(".ev"))
                    .collect()
            })
            .unwrap_or_default();
        on_disk.sort();
        let mut embedded: Vec<String> = super::FILES.iter().map(|(p, _)| p.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }
}
