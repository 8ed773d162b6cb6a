//! ev's executor: runs the action graph `ev plan` computed against the real
//! tools (octodns, kubectl, nix, skopeo, pulumi), one child process per
//! step with explicit argv, a declared environment and a log per action.
//!
//! The core (`ev-core`) stays pure; this crate is the only one that runs
//! tools. The CLI's `ev apply` and `ev plan --refresh` are thin faces over it.

pub mod atomic;
pub mod confined;
pub mod drivers;
pub mod events;
pub mod executor;
pub mod import;
pub mod oci;
pub mod process;
pub mod refresh;
pub mod report;
pub mod schedule;
pub mod secrets;
pub mod state_backend;
pub mod state_file;
