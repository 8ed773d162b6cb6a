//! The state in PostgreSQL: tables `ev_state` (per workspace: the state's
//! text, the journal, a generation counted up by every write) and `ev_lock`
//! (per workspace: the lease's id, holder record and expiry), created on
//! first use. Expiry is the server's clock (`now()`), so holders on other
//! machines need not agree on the time.
//!
//! Every write is one transaction that first locks the lease row (`FOR
//! SHARE`, so a takeover waits for it) and checks the writer still holds
//! it, then updates the state row only if its generation is the one the
//! writer read: a holder whose lease was taken over is refused, and two
//! writers can never interleave.
//!
//! The `postgres` client runs its own async runtime: its calls run on a
//! thread of their own ([`super::off_runtime`]), never on the executor's.

use std::sync::Mutex;
use std::time::Duration;

use postgres::{Client, NoTls, Transaction};

use super::{off_runtime, Acquired, BackendError, Holder, StateBackend, Stored, Version};

/// The tables, created once (under a transaction-scoped advisory lock, so
/// two first uses at once do not race on the catalog).
const SCHEMA: &str = "
SELECT pg_advisory_xact_lock(4242050);
CREATE TABLE IF NOT EXISTS ev_state (
  workspace text PRIMARY KEY,
  generation bigint NOT NULL,
  state bytea,
  journal bytea NOT NULL DEFAULT ''::bytea,
  updated timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS ev_lock (
  workspace text PRIMARY KEY,
  id text NOT NULL,
  holder text NOT NULL,
  expires timestamptz NOT NULL
);
";

/// How to reach the database.
#[derive(Clone)]
pub struct Connection {
    /// Host, address or Unix socket folder.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Database.
    pub database: String,
    /// Role.
    pub user: String,
    /// Password (decrypted or read from the environment by the caller).
    pub password: Option<String>,
    /// TLS: `None` for none, else the CA certificates (PEM) the server's
    /// must chain to (`None` inside: the public web roots).
    pub tls: Option<Option<String>>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        write!(
            f,
            "{}@{}:{}/{}",
            self.user, self.host, self.port, self.database
        )
    }
}

/// One workspace's state and lock in a PostgreSQL database.
pub struct Postgres {
    connection: Connection,
    workspace: String,
    lease: Duration,
    client: Mutex<Option<Client>>,
}

impl Postgres {
    /// The backend; it connects on first use.
    pub fn new(connection: Connection, workspace: &str, lease: Duration) -> Postgres {
        Postgres {
            connection,
            workspace: workspace.to_string(),
            lease,
            client: Mutex::new(None),
        }
    }

    fn connect(&self) -> Result<Client, BackendError> {
        let c = &self.connection;
        let mut config = postgres::Config::new();
        config
            .host(&c.host)
            .port(c.port)
            .dbname(&c.database)
            .user(&c.user)
            .application_name("ev")
            .connect_timeout(Duration::from_secs(10))
            // A statement waiting on a lock another session holds forever
            // (a holder stopped mid-transaction) gives up.
            .options("-c statement_timeout=30000 -c lock_timeout=30000");
        if let Some(password) = &c.password {
            config.password(password);
        }
        let mut client = match (&c.tls, c.host.starts_with('/')) {
            (Some(ca), false) => {
                // TLS required: no fallback to plaintext.
                config.ssl_mode(postgres::config::SslMode::Require);
                config.connect(tls_connector(ca.as_deref())?)
            }
            _ => config.connect(NoTls),
        }
        .map_err(|e| unavailable(&e))?;
        let mut tx = client.transaction().map_err(|e| unavailable(&e))?;
        tx.batch_execute(SCHEMA).map_err(|e| unavailable(&e))?;
        tx.commit().map_err(|e| unavailable(&e))?;
        Ok(client)
    }

    /// Runs `f` in one transaction, connecting (again) as needed; the
    /// transaction is committed when `f` succeeds, rolled back otherwise.
    fn transaction<T: Send>(
        &self,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T, BackendError> + Send,
    ) -> Result<T, BackendError> {
        let mut slot = self.client.lock().unwrap_or_else(|e| e.into_inner());
        let held = slot.take();
        let (result, held) = off_runtime(move || {
            let mut client = match held {
                Some(c) if !c.is_closed() => c,
                _ => match self.connect() {
                    Ok(c) => c,
                    Err(e) => return (Err(e), None),
                },
            };
            let result = client
                .transaction()
                .map_err(|e| unavailable(&e))
                .and_then(|mut tx| {
                    let value = f(&mut tx)?;
                    tx.commit().map_err(|e| unavailable(&e))?;
                    Ok(value)
                });
            // The connection may be gone: the next call makes a new one.
            let keep = !matches!(result, Err(BackendError::Unavailable(_)));
            (result, keep.then_some(client))
        });
        *slot = held;
        result
    }

    /// Checks, in `tx`, that `holder` holds the lease (its row locked
    /// against a takeover until `tx` ends).
    fn fence(&self, tx: &mut Transaction<'_>, holder: &Holder) -> Result<(), BackendError> {
        let row = tx
            .query_opt(
                "SELECT id, holder FROM ev_lock WHERE workspace = $1 FOR SHARE",
                &[&self.workspace],
            )
            .map_err(|e| unavailable(&e))?;
        match row {
            Some(r) if r.get::<_, String>(0) == holder.id => Ok(()),
            Some(r) => Err(BackendError::LeaseLost {
                ours: holder.id.clone(),
                now: serde_json::from_str(r.get::<_, &str>(1)).ok(),
            }),
            None => Err(BackendError::LeaseLost {
                ours: holder.id.clone(),
                now: None,
            }),
        }
    }

    /// Writes the state row with `bytes` (`$2`): `update` over the
    /// generation `expected` (`$3`), or `insert` when none was written.
    fn write_row(
        &self,
        bytes: &[u8],
        expected: &Version,
        holder: &Holder,
        update: &'static str,
        insert: &'static str,
    ) -> Result<Version, BackendError> {
        let expected = generation(expected)?;
        let workspace = self.workspace.clone();
        self.transaction(move |tx| {
            self.fence(tx, holder)?;
            let written = if expected == 0 {
                tx.execute(insert, &[&workspace, &bytes])
            } else {
                tx.execute(update, &[&workspace, &bytes, &expected])
            }
            .map_err(|e| unavailable(&e))?;
            if written == 1 {
                Ok(Version((expected + 1).to_string()))
            } else {
                Err(BackendError::Conflict(format!(
                    "its generation is no longer {expected}: another process wrote it"
                )))
            }
        })
    }
}

/// A TLS connector verifying the server's certificate against `ca` (PEM),
/// or the public web roots.
fn tls_connector(
    ca: Option<&str>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, BackendError> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let unusable = |why: String| BackendError::Unavailable(format!("TLS: {why}"));
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(pem) => {
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|e| unusable(format!("certificate_authority: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| unusable(format!("certificate_authority: {e}")))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    // ring, not aws-lc-rs: no C toolchain build (ring lacks post-quantum
    // key exchange, which rustls flags by deprecating this constructor).
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| unusable(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// The generation a version names (`""`, a state never written: 0).
fn generation(version: &Version) -> Result<i64, BackendError> {
    if version.0.is_empty() {
        return Ok(0);
    }
    version.0.parse().map_err(|_| {
        BackendError::Conflict(format!("`{}` is no version of this backend", version.0))
    })
}

fn unavailable(e: &postgres::Error) -> BackendError {
    // The database's own message (`ERROR: permission denied ...`) when it
    // answered, else the connection's.
    let why = match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => {
            let mut why = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                why = format!("{why}: {s}");
                source = s.source();
            }
            why
        }
    };
    BackendError::Unavailable(why)
}

impl StateBackend for Postgres {
    fn location(&self) -> String {
        format!(
            "postgres {}@{}:{}/{}, workspace {}",
            self.connection.user,
            self.connection.host,
            self.connection.port,
            self.connection.database,
            self.workspace
        )
    }

    fn lease(&self) -> Option<Duration> {
        Some(self.lease)
    }

    fn read(&self) -> Result<Stored, BackendError> {
        let workspace = self.workspace.clone();
        self.transaction(move |tx| {
            let row = tx
                .query_opt(
                    "SELECT generation, state, journal FROM ev_state WHERE workspace = $1",
                    &[&workspace],
                )
                .map_err(|e| unavailable(&e))?;
            Ok(match row {
                Some(r) => Stored {
                    version: Version(r.get::<_, i64>(0).to_string()),
                    state: r.get(1),
                    journal: r.get(2),
                },
                None => Stored::default(),
            })
        })
    }

    fn write(
        &self,
        state: &[u8],
        expected: &Version,
        holder: &Holder,
    ) -> Result<Version, BackendError> {
        self.write_row(
            state,
            expected,
            holder,
            "UPDATE ev_state SET generation = generation + 1, state = $2, journal = ''::bytea, updated = now() WHERE workspace = $1 AND generation = $3",
            "INSERT INTO ev_state (workspace, generation, state) VALUES ($1, 1, $2) ON CONFLICT (workspace) DO NOTHING",
        )
    }

    fn append(
        &self,
        line: &[u8],
        expected: &Version,
        holder: &Holder,
    ) -> Result<Version, BackendError> {
        self.write_row(
            line,
            expected,
            holder,
            "UPDATE ev_state SET generation = generation + 1, journal = journal || $2, updated = now() WHERE workspace = $1 AND generation = $3",
            "INSERT INTO ev_state (workspace, generation, journal) VALUES ($1, 1, $2) ON CONFLICT (workspace) DO NOTHING",
        )
    }

    fn remove(&self, expected: &Version, holder: &Holder) -> Result<(), BackendError> {
        let expected = generation(expected)?;
        let workspace = self.workspace.clone();
        self.transaction(move |tx| {
            self.fence(tx, holder)?;
            let removed = tx
                .execute(
                    "DELETE FROM ev_state WHERE workspace = $1 AND generation = $2",
                    &[&workspace, &expected],
                )
                .map_err(|e| unavailable(&e))?;
            if removed == 1 || expected == 0 {
                Ok(())
            } else {
                Err(BackendError::Conflict(format!(
                    "its generation is no longer {expected}: another process wrote it"
                )))
            }
        })
    }

    fn acquire(&self, holder: &Holder) -> Result<Acquired, BackendError> {
        let workspace = self.workspace.clone();
        let record = serde_json::to_string(holder).unwrap_or_default();
        let seconds = self.lease.as_secs_f64();
        self.transaction(move |tx| {
            let row = tx
                .query_opt(
                    "SELECT id, holder, expires > now() FROM ev_lock WHERE workspace = $1 FOR UPDATE",
                    &[&workspace],
                )
                .map_err(|e| unavailable(&e))?;
            let previous: Option<Holder> = row
                .as_ref()
                .and_then(|r| serde_json::from_str(r.get::<_, &str>(1)).ok());
            match row {
                None => {
                    let inserted = tx
                        .execute(
                            "INSERT INTO ev_lock (workspace, id, holder, expires) VALUES ($1, $2, $3, now() + make_interval(secs => $4)) ON CONFLICT (workspace) DO NOTHING",
                            &[&workspace, &holder.id, &record, &seconds],
                        )
                        .map_err(|e| unavailable(&e))?;
                    // Another process inserted first: it holds the lock.
                    if inserted == 0 {
                        return Err(BackendError::Held(None));
                    }
                    Ok(Acquired::Free)
                }
                Some(r) if r.get::<_, bool>(2) && r.get::<_, String>(0) != holder.id => {
                    Err(BackendError::Held(previous))
                }
                Some(r) => {
                    tx.execute(
                        "UPDATE ev_lock SET id = $2, holder = $3, expires = now() + make_interval(secs => $4) WHERE workspace = $1",
                        &[&workspace, &holder.id, &record, &seconds],
                    )
                    .map_err(|e| unavailable(&e))?;
                    Ok(match previous {
                        Some(dead) if r.get::<_, String>(0) != holder.id => {
                            Acquired::TakenOver(dead)
                        }
                        _ => Acquired::Free,
                    })
                }
            }
        })
    }

    fn renew(&self, holder: &Holder) -> Result<(), BackendError> {
        let workspace = self.workspace.clone();
        let seconds = self.lease.as_secs_f64();
        let renewed = self.transaction(move |tx| {
            tx.execute(
                "UPDATE ev_lock SET expires = now() + make_interval(secs => $3) WHERE workspace = $1 AND id = $2",
                &[&workspace, &holder.id, &seconds],
            )
            .map_err(|e| unavailable(&e))
        })?;
        if renewed == 1 {
            Ok(())
        } else {
            Err(BackendError::LeaseLost {
                ours: holder.id.clone(),
                now: self.holder()?,
            })
        }
    }

    fn release(&self, holder: &Holder) -> Result<(), BackendError> {
        let workspace = self.workspace.clone();
        self.transaction(move |tx| {
            tx.execute(
                "DELETE FROM ev_lock WHERE workspace = $1 AND id = $2",
                &[&workspace, &holder.id],
            )
            .map_err(|e| unavailable(&e))
        })
        .map(|_| ())
    }

    fn holder(&self) -> Result<Option<Holder>, BackendError> {
        let workspace = self.workspace.clone();
        self.transaction(move |tx| {
            let row = tx
                .query_opt(
                    "SELECT holder FROM ev_lock WHERE workspace = $1",
                    &[&workspace],
                )
                .map_err(|e| unavailable(&e))?;
            Ok(row.and_then(|r| serde_json::from_str(r.get::<_, &str>(0)).ok()))
        })
    }

    fn force_unlock(&self, id: &str) -> Result<Holder, BackendError> {
        let workspace = self.workspace.clone();
        let id = id.to_string();
        self.transaction(move |tx| {
            let row = tx
                .query_opt(
                    "SELECT id, holder FROM ev_lock WHERE workspace = $1 FOR UPDATE",
                    &[&workspace],
                )
                .map_err(|e| unavailable(&e))?;
            let Some(row) = row else {
                return Err(BackendError::NotTheLock("no apply lock is held".into()));
            };
            let held: String = row.get(0);
            if held != id {
                return Err(BackendError::NotTheLock(format!(
                    "the lock's id is {held}, not {id}; nothing was removed"
                )));
            }
            tx.execute(
                "DELETE FROM ev_lock WHERE workspace = $1 AND id = $2",
                &[&workspace, &id],
            )
            .map_err(|e| unavailable(&e))?;
            serde_json::from_str(row.get::<_, &str>(1))
                .map_err(|e| BackendError::Unavailable(format!("unreadable lock record: {e}")))
        })
    }
}
