//! The standard library, embedded in the binary so `ev` works on any
//! repository. Its files are shown to users under `stdlib/`.

/// (display path, text) of every standard library file, in load order.
pub const FILES: &[(&str, &str)] = &[("stdlib/core.ev", include_str!("../../../stdlib/core.ev"))];
