//! The diagnostic documentation pages (`docs/diagnostics/<CODE>.md`),
//! embedded so editors can open them for any repository.

/// (code, Markdown page) for every diagnostic code.
pub const PAGES: &[(&str, &str)] = &[
    ("E0101", include_str!("../../../docs/diagnostics/E0101.md")),
    ("E0102", include_str!("../../../docs/diagnostics/E0102.md")),
    ("E0103", include_str!("../../../docs/diagnostics/E0103.md")),
    ("E0104", include_str!("../../../docs/diagnostics/E0104.md")),
    ("E0105", include_str!("../../../docs/diagnostics/E0105.md")),
    ("E0106", include_str!("../../../docs/diagnostics/E0106.md")),
    ("E0201", include_str!("../../../docs/diagnostics/E0201.md")),
    ("E0202", include_str!("../../../docs/diagnostics/E0202.md")),
    ("E0203", include_str!("../../../docs/diagnostics/E0203.md")),
    ("E0204", include_str!("../../../docs/diagnostics/E0204.md")),
    ("E0205", include_str!("../../../docs/diagnostics/E0205.md")),
    ("E0206", include_str!("../../../docs/diagnostics/E0206.md")),
    ("E0207", include_str!("../../../docs/diagnostics/E0207.md")),
    ("E0208", include_str!("../../../docs/diagnostics/E0208.md")),
    ("E0209", include_str!("../../../docs/diagnostics/E0209.md")),
    ("E0210", include_str!("../../../docs/diagnostics/E0210.md")),
    ("E0211", include_str!("../../../docs/diagnostics/E0211.md")),
    ("E0212", include_str!("../../../docs/diagnostics/E0212.md")),
    ("E0213", include_str!("../../../docs/diagnostics/E0213.md")),
    ("E0214", include_str!("../../../docs/diagnostics/E0214.md")),
    ("E0301", include_str!("../../../docs/diagnostics/E0301.md")),
    ("E0302", include_str!("../../../docs/diagnostics/E0302.md")),
    ("E0303", include_str!("../../../docs/diagnostics/E0303.md")),
    ("E0304", include_str!("../../../docs/diagnostics/E0304.md")),
    ("E0305", include_str!("../../../docs/diagnostics/E0305.md")),
    ("E0306", include_str!("../../../docs/diagnostics/E0306.md")),
    ("E0307", include_str!("../../../docs/diagnostics/E0307.md")),
    ("E0401", include_str!("../../../docs/diagnostics/E0401.md")),
    ("E0402", include_str!("../../../docs/diagnostics/E0402.md")),
    ("E0403", include_str!("../../../docs/diagnostics/E0403.md")),
    ("E0404", include_str!("../../../docs/diagnostics/E0404.md")),
    ("E0405", include_str!("../../../docs/diagnostics/E0405.md")),
    ("E0406", include_str!("../../../docs/diagnostics/E0406.md")),
    ("E0407", include_str!("../../../docs/diagnostics/E0407.md")),
    ("E0408", include_str!("../../../docs/diagnostics/E0408.md")),
    ("E0409", include_str!("../../../docs/diagnostics/E0409.md")),
    ("E0410", include_str!("../../../docs/diagnostics/E0410.md")),
    ("E0411", include_str!("../../../docs/diagnostics/E0411.md")),
    ("E0412", include_str!("../../../docs/diagnostics/E0412.md")),
    ("E0413", include_str!("../../../docs/diagnostics/E0413.md")),
    ("E0414", include_str!("../../../docs/diagnostics/E0414.md")),
    ("E0415", include_str!("../../../docs/diagnostics/E0415.md")),
    ("E0416", include_str!("../../../docs/diagnostics/E0416.md")),
    ("E0417", include_str!("../../../docs/diagnostics/E0417.md")),
    ("E0418", include_str!("../../../docs/diagnostics/E0418.md")),
    ("E0419", include_str!("../../../docs/diagnostics/E0419.md")),
    ("E0420", include_str!("../../../docs/diagnostics/E0420.md")),
    ("E0421", include_str!("../../../docs/diagnostics/E0421.md")),
    ("E0501", include_str!("../../../docs/diagnostics/E0501.md")),
    ("E0502", include_str!("../../../docs/diagnostics/E0502.md")),
    ("E0503", include_str!("../../../docs/diagnostics/E0503.md")),
    ("E0504", include_str!("../../../docs/diagnostics/E0504.md")),
    ("E0505", include_str!("../../../docs/diagnostics/E0505.md")),
    ("E0601", include_str!("../../../docs/diagnostics/E0601.md")),
    ("E0602", include_str!("../../../docs/diagnostics/E0602.md")),
    ("E0603", include_str!("../../../docs/diagnostics/E0603.md")),
    ("E0604", include_str!("../../../docs/diagnostics/E0604.md")),
    ("E0605", include_str!("../../../docs/diagnostics/E0605.md")),
    ("E0606", include_str!("../../../docs/diagnostics/E0606.md")),
    ("E0607", include_str!("../../../docs/diagnostics/E0607.md")),
    ("E0608", include_str!("../../../docs/diagnostics/E0608.md")),
    ("E0609", include_str!("../../../docs/diagnostics/E0609.md")),
    ("E0610", include_str!("../../../docs/diagnostics/E0610.md")),
    ("E0611", include_str!("../../../docs/diagnostics/E0611.md")),
    ("E0612", include_str!("../../../docs/diagnostics/E0612.md")),
    ("E0613", include_str!("../../../docs/diagnostics/E0613.md")),
    ("E0614", include_str!("../../../docs/diagnostics/E0614.md")),
    ("E0615", include_str!("../../../docs/diagnostics/E0615.md")),
    ("E0616", include_str!("../../../docs/diagnostics/E0616.md")),
    ("E0617", include_str!("../../../docs/diagnostics/E0617.md")),
    ("E0618", include_str!("../../../docs/diagnostics/E0618.md")),
    ("E0619", include_str!("../../../docs/diagnostics/E0619.md")),
    ("W0601", include_str!("../../../docs/diagnostics/W0601.md")),
    ("E0999", include_str!("../../../docs/diagnostics/E0999.md")),
];

/// The documentation page of a code.
pub fn page(code: &str) -> Option<&'static str> {
    PAGES.iter().find(|(c, _)| *c == code).map(|(_, p)| *p)
}

#[cfg(test)]
mod tests {
    /// Every code has an embedded page.
    #[test]
    fn every_code_has_a_page() {
        for (code, _) in crate::diagnostic::CODES {
            assert!(super::page(code).is_some(), "{code} has no embedded page");
        }
    }
}
