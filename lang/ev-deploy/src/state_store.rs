//! Where an environment keeps its state and apply lock: the typed view of
//! an environment's `state` field (`stdlib/env.ev`'s `LocalState |
//! PostgresState | KubernetesState | S3State`). `ev-apply` opens the backend it names; credentials
//! are secrets or environment variable names here, never values.

use ev_core::model::{Model, ModelResource, Secret};
use serde::{Deserialize, Serialize};

use crate::backend::{view, Misfit};

/// An environment, as far as ev's own files go.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentView {
    /// Its name.
    pub name: String,
    /// Where its state lives.
    pub state: StateStore,
}

/// A state backend's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "backend", rename_all = "lowercase")]
pub enum StateStore {
    /// Files in `.ev/` (`.ev/env/<name>/`).
    Local(LocalStore),
    /// A PostgreSQL database.
    Postgres(PostgresStore),
    /// A Secret and a Lease in a Kubernetes cluster.
    Kubernetes(KubernetesStore),
    /// Objects in an S3-compatible bucket.
    S3(S3Store),
}

/// `state = { backend = "s3", ... }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct S3Store {
    /// The service's URL (`https://`; `http://` only to loopback).
    pub endpoint: String,
    /// The bucket (it must exist).
    pub bucket: String,
    /// The signing region.
    pub region: String,
    /// The objects' key prefix.
    pub prefix: String,
    /// The objects' folder under the prefix (the environment's name when
    /// `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// `path` (`endpoint/bucket/key`) or `virtual-host` (`bucket.endpoint/key`).
    pub addressing: S3Addressing,
    /// The access key id (with `secret_access_key`); both left out: the
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// The secret access key, from sops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<SecretValue>,
    /// The CA certificate (PEM) signing the server's, when not a public one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_authority: Option<String>,
    /// Seconds a lease lasts unless renewed.
    pub lease_seconds: u64,
    /// age recipients the state is encrypted to at rest (none: plaintext).
    #[serde(default)]
    pub encrypt_to: Vec<String>,
}

/// `addressing` of an S3 state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum S3Addressing {
    /// `endpoint/bucket/key`.
    Path,
    /// `bucket.endpoint/key`.
    VirtualHost,
}

/// `state = { backend = "kubernetes", ... }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KubernetesStore {
    /// The declared cluster whose API server keeps it (reached as kubectl
    /// reaches it).
    pub cluster: String,
    /// The namespace of the Secret and the Lease.
    pub namespace: String,
    /// The objects' suffix (the environment's name when `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// Seconds a lease lasts unless renewed.
    pub lease_seconds: u64,
    /// age recipients the state is encrypted to at rest (none: plaintext).
    #[serde(default)]
    pub encrypt_to: Vec<String>,
}

/// `state = { backend = "local" }`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LocalStore {
    /// age recipients the state is encrypted to at rest (none: plaintext).
    #[serde(default)]
    pub encrypt_to: Vec<String>,
}

impl StateStore {
    /// Local files, unencrypted (a program that says nothing).
    pub fn local() -> StateStore {
        StateStore::Local(LocalStore::default())
    }

    /// Whether the state is kept in local files.
    pub fn is_local(&self) -> bool {
        matches!(self, StateStore::Local(_))
    }

    /// The age recipients its state is encrypted to at rest.
    pub fn encrypt_to(&self) -> &[String] {
        match self {
            StateStore::Local(l) => &l.encrypt_to,
            StateStore::Postgres(p) => &p.encrypt_to,
            StateStore::Kubernetes(k) => &k.encrypt_to,
            StateStore::S3(s) => &s.encrypt_to,
        }
    }

    /// Its `backend` name: `local`, `postgres`, `kubernetes`, `s3`.
    pub fn kind(&self) -> &'static str {
        match self {
            StateStore::Local(_) => "local",
            StateStore::Postgres(_) => "postgres",
            StateStore::Kubernetes(_) => "kubernetes",
            StateStore::S3(_) => "s3",
        }
    }

    /// Where it points, for messages before it is opened.
    pub fn describe(&self) -> String {
        match self {
            StateStore::Local(_) => "local".into(),
            StateStore::Postgres(pg) => {
                format!(
                    "postgres {}@{}:{}/{}",
                    pg.user, pg.host, pg.port, pg.database
                )
            }
            StateStore::Kubernetes(k) => {
                format!(
                    "kubernetes cluster {}, namespace {}",
                    k.cluster, k.namespace
                )
            }
            StateStore::S3(s) => format!("s3 bucket {} at {}", s.bucket, s.endpoint),
        }
    }
}

/// `state = { backend = "postgres", ... }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PostgresStore {
    /// Host name, address, or a Unix socket's folder (starting with `/`).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Database.
    pub database: String,
    /// Role to connect as.
    pub user: String,
    /// The password, from sops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretValue>,
    /// Or the environment variable holding it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// TLS to the server (never over a Unix socket).
    pub tls: PostgresTls,
    /// With `tls = "verify"`: the CA certificate (PEM) signing the
    /// server's, when it is not a public one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_authority: Option<String>,
    /// The rows the environment's state and lock are kept under (the
    /// environment's name when `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// Seconds a lease lasts unless renewed.
    pub lease_seconds: u64,
    /// age recipients the state is encrypted to at rest (none: plaintext).
    #[serde(default)]
    pub encrypt_to: Vec<String>,
}

/// `tls` of a PostgreSQL state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PostgresTls {
    /// TLS required, the server's certificate verified for the host.
    Verify,
    /// No TLS (a Unix socket, a tunnel, loopback).
    Disable,
}

/// A field typed `Secret` (always a `$secret` marker in the model).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecretValue {
    /// The marker's content.
    #[serde(rename = "$secret")]
    pub secret: Secret,
}

/// How kubectl reaches the declared cluster `name` (`None`: no such
/// cluster in the model).
pub fn cluster_connection(
    model: &Model,
    name: &str,
) -> Option<crate::backends::kubectl::Connection> {
    let cluster = model.of_kind("cluster").find(|r| r.key.name == name)?;
    let view: crate::backends::kubectl::Cluster = view(cluster).ok()?;
    Some(crate::backends::kubectl::Connection::of(&view))
}

/// The typed view of an environment declaration.
pub fn environment_view(resource: &ModelResource) -> Result<EnvironmentView, Box<Misfit>> {
    view(resource)
}

/// The name of the environment named with `ev -e` (none: the default
/// one; `default` in a program that declares none).
pub fn environment_name(model: &Model, environment: Option<&str>) -> String {
    match environment {
        Some(name) => name.to_string(),
        None => model
            .of_kind("environment")
            .find(|r| r.value.get("default") == Some(&serde_json::Value::Bool(true)))
            .map(|r| r.key.name.clone())
            .unwrap_or_else(|| "default".into()),
    }
}

/// Where the environment named with `ev -e` (none: the default one) keeps
/// its state: local files for a program without environments.
pub fn state_store(model: &Model, environment: Option<&str>) -> StateStore {
    let chosen = model.of_kind("environment").find(|r| match environment {
        Some(name) => r.key.name == name,
        None => r.value.get("default") == Some(&serde_json::Value::Bool(true)),
    });
    chosen
        .and_then(|r| environment_view(r).ok())
        .map(|e| e.state)
        .unwrap_or_else(StateStore::local)
}
