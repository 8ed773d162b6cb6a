//! Action ids, built and taken apart in one place. An id names the layer
//! (the top folder of the declaring file) and what the action realizes:
//! `jupiter:up` (a stack, whose layer is its name), `eight:yuto.sh` (a
//! zone), `whale:grand-central:push` (an image), `venus:methanol:deploy` (a
//! machine), `milky-way:apply` (a cluster, whose layer is its name). Ids are
//! strings in the state and in saved plans; reading one needs its backend
//! (recorded beside it), since a zone may be called `apply` and a folder may
//! hold a `:`. Resource names never hold a `:` (E0307), so the name is the
//! last segment.

use std::fmt;

use super::BackendId;

/// An action's id, typed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActionId {
    /// The tool it drives.
    pub backend: BackendId,
    /// Its layer (for stacks and clusters, their name).
    pub layer: String,
    /// The resource it realizes: the stack, zone, image, machine or cluster.
    pub name: String,
}

impl ActionId {
    /// The id of an action of `backend` realizing `name`, declared in `layer`
    /// (ignored for stacks and clusters, whose layer is their name).
    pub fn new(backend: BackendId, layer: &str, name: &str) -> ActionId {
        let layer = match backend {
            BackendId::Pulumi | BackendId::Kubectl => name,
            _ => layer,
        };
        ActionId {
            backend,
            layer: layer.to_string(),
            name: name.to_string(),
        }
    }

    /// Reads the id of an action of `backend` (as recorded in the state).
    pub fn parse(backend: BackendId, id: &str) -> Option<ActionId> {
        let (layer, name) = match backend {
            BackendId::Pulumi => {
                let name = id.strip_suffix(":up")?;
                (name, name)
            }
            BackendId::Kubectl => {
                let name = id.strip_suffix(":apply")?;
                (name, name)
            }
            BackendId::Octodns => id.rsplit_once(':')?,
            BackendId::Registry => id.strip_suffix(":push")?.rsplit_once(':')?,
            BackendId::Nix => id.strip_suffix(":deploy")?.rsplit_once(':')?,
        };
        (!layer.is_empty() && !name.is_empty()).then(|| ActionId::new(backend, layer, name))
    }

    /// What people call what it realizes: `machine methanol`, `image x`,
    /// else the id itself.
    pub fn subject(&self) -> String {
        match self.backend {
            BackendId::Nix => format!("machine {}", self.name),
            BackendId::Registry => format!("image {}", self.name),
            _ => self.to_string(),
        }
    }
}

impl fmt::Display for ActionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (layer, name) = (&self.layer, &self.name);
        match self.backend {
            BackendId::Pulumi => write!(f, "{name}:up"),
            BackendId::Kubectl => write!(f, "{name}:apply"),
            BackendId::Octodns => write!(f, "{layer}:{name}"),
            BackendId::Registry => write!(f, "{layer}:{name}:push"),
            BackendId::Nix => write!(f, "{layer}:{name}:deploy"),
        }
    }
}

/// The layer of an action id recorded with `backend` (a name, as in the
/// state and plans); the id's first segment when it cannot be read.
pub fn layer_of(backend: &str, id: &str) -> String {
    match BackendId::from_name(backend) {
        Some(backend) => layer(backend, id),
        None => first_segment(id),
    }
}

/// The layer of an action id of `backend`; the id's first segment when it
/// cannot be read.
pub fn layer(backend: BackendId, id: &str) -> String {
    ActionId::parse(backend, id).map_or_else(|| first_segment(id), |id| id.layer)
}

fn first_segment(id: &str) -> String {
    id.split(':').next().unwrap_or(id).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_back_as_written() {
        let cases = [
            (BackendId::Pulumi, "jupiter", "jupiter", "jupiter:up"),
            (
                BackendId::Kubectl,
                "milky-way",
                "milky-way",
                "milky-way:apply",
            ),
            (BackendId::Octodns, "eight", "yuto.sh", "eight:yuto.sh"),
            (
                BackendId::Registry,
                "whale",
                "grand-central",
                "whale:grand-central:push",
            ),
            (BackendId::Nix, "venus", "methanol", "venus:methanol:deploy"),
            // A zone named like a verb, a folder holding a colon.
            (BackendId::Octodns, "eight", "apply", "eight:apply"),
            (BackendId::Nix, "a:b", "m", "a:b:m:deploy"),
        ];
        for (backend, layer, name, text) in cases {
            let id = ActionId::new(backend, layer, name);
            assert_eq!(id.to_string(), text);
            assert_eq!(ActionId::parse(backend, text), Some(id));
        }
        assert_eq!(ActionId::parse(BackendId::Nix, "venus:methanol"), None);
        assert_eq!(ActionId::parse(BackendId::Octodns, "zone"), None);
        assert_eq!(layer_of("nix", "a:b:m:deploy"), "a:b");
        assert_eq!(layer_of("octodns", "eight:apply"), "eight");
    }
}
