//! Live faults against the real database servers: PostgreSQL and MariaDB stopped and restarted
//! in the middle of a run, pool exhaustion, a store slowed by a table lock, and cleanup of many
//! expired rows while live sessions keep being served.
//!
//! A test binary of its own, so that stopping a server never disturbs the main suite (cargo runs
//! test binaries one after another); its tests also take one global lock, so they never overlap
//! each other. They stop shared servers, so they run only with `SESSIONWARD_LIVE_FAULTS=1`
//! (`.ci/run` sets it), as root, where `pg_ctlcluster` and `mariadbd` exist.

#[path = "../suite/backends.rs"]
mod backends;

mod control;
mod faults;
mod load;
