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

/// A PostgreSQL server of the test's own (initdb in a temporary directory,
/// its own port), so a test may restart it without disturbing the others.
pub struct PgCluster {
    pub url: String,
    dir: tempfile::TempDir,
    bin: std::path::PathBuf,
    port: u16,
}

fn pg_bin() -> Option<std::path::PathBuf> {
    let from_config = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| std::path::PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .filter(|dir| dir.join("initdb").exists());
    from_config.or_else(|| {
        let mut found: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("initdb").exists())
            .collect();
        found.sort();
        found.pop()
    })
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl PgCluster {
    /// `None` (with a message) where PostgreSQL's server programs are not
    /// installed, unless `TEND_REQUIRE_TOOLS` is set.
    pub fn start() -> Option<PgCluster> {
        let Some(bin) = pg_bin() else {
            if std::env::var("TEND_REQUIRE_TOOLS").is_ok() {
                panic!(
                    "PostgreSQL's initdb/pg_ctl are required (TEND_REQUIRE_TOOLS) but not installed"
                );
            }
            eprintln!("skipping: PostgreSQL's server programs (initdb, pg_ctl) are not installed");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = PgCluster {
            url: format!("postgres://postgres@127.0.0.1:{port}/tend"),
            dir,
            bin,
            port,
        };
        if is_root() {
            // PostgreSQL refuses to run as root: the cluster belongs to `postgres`.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(cluster.dir.path(), std::fs::Permissions::from_mode(0o777))
                .unwrap();
        }
        cluster.run(
            "initdb",
            &["-D", "data", "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        );
        cluster.ctl(&["start"]);
        cluster.run(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "postgres",
                "tend",
            ],
        );
        Some(cluster)
    }

    fn run(&self, program: &str, args: &[&str]) {
        let exe = self.bin.join(program);
        let mut command = if is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            std::process::Command::new(&exe)
        };
        let out = command
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn ctl(&self, action: &[&str]) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {}",
            self.port,
            self.dir.path().display()
        );
        let mut args = vec!["-D", "data", "-l", "server.log", "-w", "-o", &options];
        args.extend_from_slice(action);
        self.run("pg_ctl", &args);
    }

    /// Restarts the server: every connection is cut, as in a failover.
    pub fn restart(&self) {
        self.ctl(&["restart", "-m", "fast"]);
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let options = format!("-p {}", self.port);
        let exe = self.bin.join("pg_ctl");
        let mut command = if is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            std::process::Command::new(&exe)
        };
        let _ = command
            .args(["-D", "data", "-o", &options, "stop", "-m", "immediate"])
            .current_dir(self.dir.path())
            .output();
    }
}
