//! The three workloads: what each client connection sends in its loop.

/// One kind of traffic, the same for every contender.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Workload {
    /// Every request is `GET /me` with an existing session from the pool.
    ReadOnly,
    /// 95% `GET /me`, 5% `POST /update` (a counter in the session data changes).
    ReadMostly,
    /// `POST /login` for a new session, then `POST /logout` with it; both are counted.
    LoginChurn,
}

impl Workload {
    /// Every workload, in report order.
    pub const ALL: [Workload; 3] = [
        Workload::ReadOnly,
        Workload::ReadMostly,
        Workload::LoginChurn,
    ];

    /// The name used in flags, the report and `results.json`.
    pub fn name(self) -> &'static str {
        match self {
            Workload::ReadOnly => "read-only",
            Workload::ReadMostly => "read-mostly",
            Workload::LoginChurn => "login-churn",
        }
    }

    /// One line for the report.
    pub fn description(self) -> &'static str {
        match self {
            Workload::ReadOnly => "every request `GET /me` with an existing session",
            Workload::ReadMostly => {
                "95% `GET /me`, 5% `POST /update` (a counter in the session data is incremented)"
            }
            Workload::LoginChurn => {
                "`POST /login` (new session) then `POST /logout` with it; each request counted"
            }
        }
    }

    /// The workload named `name`.
    pub fn parse(name: &str) -> Result<Self, String> {
        Workload::ALL
            .into_iter()
            .find(|w| w.name() == name)
            .ok_or_else(|| {
                format!("unknown workload {name:?}: read-only, read-mostly, login-churn")
            })
    }

    /// Percentage of `POST /update` among the requests on existing sessions.
    pub fn update_percent(self) -> u64 {
        match self {
            Workload::ReadMostly => 5,
            _ => 0,
        }
    }
}
