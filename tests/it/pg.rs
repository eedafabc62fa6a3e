//! Throwaway PostgreSQL databases for tests: one per test, created on the
//! server named by `TEND_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and dropped afterwards.
//! Where no server answers, a test skips with a message; in CI
//! (`TEND_REQUIRE_TOOLS=1`) it fails instead.

use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// The administrative connection URL tests create databases with.
pub fn admin_url() -> String {
    std::env::var("TEND_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Runs `work` on a fresh single-threaded runtime on its own thread, so it
/// can be called from sync tests and from inside async tests alike.
fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>
    + Send
    + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(work())
    })
    .join()
    .unwrap()
}

async fn admin(sql: String) -> Result<(), sqlx::Error> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&admin_url()).await?;
    sqlx::query(&sql).execute(&mut conn).await?;
    conn.close().await
}

/// A database of its own for one test, dropped when this is dropped.
pub struct PgDb {
    pub url: String,
    name: String,
}

impl PgDb {
    /// `None` (with a message) when no PostgreSQL server answers, unless
    /// `TEND_REQUIRE_TOOLS` is set: then that is a failure.
    pub fn create() -> Option<PgDb> {
        let name = format!(
            "tend_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        // A language collation where the server has ICU (PostgreSQL 15+):
        // the byte order tend promises must come from its queries, not from
        // a database that happens to sort in C.
        let icu = format!(
            "CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
        );
        let plain = format!("CREATE DATABASE {name}");
        let created = blocking(move || {
            Box::pin(async move {
                match admin(icu).await {
                    Ok(()) => Ok(()),
                    Err(_) => admin(plain).await,
                }
            })
        });
        match created {
            Ok(()) => {}
            Err(e) => {
                if std::env::var("TEND_REQUIRE_TOOLS").is_ok() {
                    panic!(
                        "PostgreSQL is required (TEND_REQUIRE_TOOLS) but {} answers: {e}",
                        admin_url()
                    );
                }
                eprintln!(
                    "skipping the PostgreSQL half of this test: no server at {} ({e}); set TEND_TEST_POSTGRES to run it",
                    admin_url()
                );
                return None;
            }
        }
        let admin = admin_url();
        let base = admin
            .rsplit_once('/')
            .map(|(base, _)| base)
            .unwrap_or(&admin);
        Some(PgDb {
            url: format!("{base}/{name}"),
            name,
        })
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let _ = blocking(move || Box::pin(admin(sql)));
    }
}
