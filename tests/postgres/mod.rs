//! A scratch schema on the test PostgreSQL for each store a test makes,
//! dropped when it goes out of scope. The server is the one every machine
//! of this project runs on 127.0.0.1:5432 with trust auth (`.ci/run`
//! starts it); `GATEKEEPER_TEST_PG` names another. A test that cannot
//! reach it fails and says so: these tests never skip.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

use gatekeeper::store::postgres::{PostgresStore, Target};

pub fn url() -> String {
    std::env::var("GATEKEEPER_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable".into())
}

fn admin() -> postgres::Client {
    let url = url();
    match postgres::Client::connect(&url, postgres::NoTls) {
        Ok(c) => c,
        Err(e) => panic!(
            "cannot reach the test PostgreSQL at {url}: {e}\n\
             start it (`.ci/run` does: `service postgresql start`) or point \
             GATEKEEPER_TEST_PG at one; these tests do not skip"
        ),
    }
}

/// One schema, its own: stores and connections made from `target()` see
/// only it.
pub struct Scratch {
    pub schema: String,
}

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let schema = format!(
            "gk_{tag}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut a = admin();
        a.batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .unwrap();
        Scratch { schema }
    }

    pub fn target(&self) -> Target {
        Target::new(&url(), None).unwrap().with_schema(&self.schema)
    }

    pub fn store(&self) -> PostgresStore {
        PostgresStore::open(&self.target()).unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let mut a = admin();
        let _ = a.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema));
    }
}
