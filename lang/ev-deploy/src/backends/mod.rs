//! The backends, one module per tool: each owns its stdlib kinds' typed
//! views (the schema link), their lowering to actions, its artifact and
//! how changes to it are shown. Registered in
//! [`crate::backend::BackendId::backend`].

pub mod kubectl;
pub mod nix;
pub mod octodns;
pub mod pulumi;
pub mod registry;
