//! `sessionward-bench serve <contender>`: one contender's server process, and the settings every
//! contender shares.

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};

use super::Contender;
use crate::counting::Counters;

/// Connections in every PostgreSQL and MySQL pool (sqlx 0.8 and 0.9 alike).
pub const DB_POOL_SIZE: u32 = 16;

/// Idle pool connections close after this long, for every contender alike, so that the
/// contenders waiting for their next slice hold no PostgreSQL connections (the server allows
/// 100 in all).
pub const DB_IDLE_TIMEOUT: Duration = Duration::from_secs(2);

/// Session lifetime for every contender (sessionward's database default).
pub const SESSION_DAYS: i64 = 7;

/// Period of every contender's expired-session cleanup task (sessionward's README value).
pub const CLEANUP_PERIOD: Duration = Duration::from_secs(300);

/// What the harness tells a contender process.
#[derive(Clone, Debug)]
pub struct ServeArgs {
    /// Which application to serve.
    pub contender: Contender,
    /// Port on 127.0.0.1.
    pub port: u16,
    /// Its database (PostgreSQL, MySQL or Redis URL, or a SQLite file path).
    pub db_url: Option<String>,
    /// The prefix of its keys, for a Redis contender.
    pub key_prefix: Option<String>,
    /// `LoadBatching::max_in_flight` of a batched SQL contender (`None`: the default).
    pub max_in_flight: Option<usize>,
}

impl ServeArgs {
    /// The command-line arguments that [`ServeArgs::parse`] reads back.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            "serve".to_owned(),
            self.contender.name().to_owned(),
            "--port".to_owned(),
            self.port.to_string(),
        ];
        if let Some(url) = &self.db_url {
            args.extend(["--db-url".to_owned(), url.clone()]);
        }
        if let Some(prefix) = &self.key_prefix {
            args.extend(["--key-prefix".to_owned(), prefix.clone()]);
        }
        if let Some(n) = self.max_in_flight {
            args.extend(["--max-in-flight".to_owned(), n.to_string()]);
        }
        args
    }

    /// Reads the arguments after `serve`.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let name = args.first().ok_or("serve needs a contender name")?;
        let mut parsed = ServeArgs {
            contender: Contender::parse(name)?,
            port: 0,
            db_url: None,
            key_prefix: None,
            max_in_flight: None,
        };
        let mut rest = args[1..].iter();
        while let Some(flag) = rest.next() {
            let value = rest.next().ok_or_else(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--port" => parsed.port = value.parse().map_err(|_| "--port: not a port")?,
                "--db-url" => parsed.db_url = Some(value.clone()),
                "--key-prefix" => parsed.key_prefix = Some(value.clone()),
                "--max-in-flight" => {
                    let n = value.parse().map_err(|_| "--max-in-flight: not a number")?;
                    parsed.max_in_flight = Some(n);
                }
                other => return Err(format!("serve: unknown flag {other}")),
            }
        }
        Ok(parsed)
    }

    /// The database URL, or an error naming the contender.
    pub fn db_url(&self) -> Result<&str, String> {
        self.db_url
            .as_deref()
            .ok_or_else(|| format!("{} needs --db-url", self.contender.name()))
    }
}

/// Builds the contender's application and serves it until the process is killed.
pub async fn serve(args: ServeArgs) -> Result<(), String> {
    exit_with_harness();
    let counters = Counters::new();
    let app = match args.contender {
        Contender::Bare => super::bare::app(None),
        Contender::BareJwtSized => super::bare::app(Some(super::bare::JWT_SIZED_PAD)),
        Contender::SessionwardJwt
        | Contender::SessionwardSqlite
        | Contender::SessionwardPg
        | Contender::SessionwardPgUnbatched
        | Contender::SessionwardMysql
        | Contender::SessionwardMysqlUnbatched
        | Contender::SessionwardPgCached
        | Contender::SessionwardRedis => super::sessionward::app(&args, &counters).await?,
        Contender::TowerSessionsMemory
        | Contender::TowerSessionsPg
        | Contender::TowerSessionsPgMoka => super::tower_sessions::app(&args, &counters).await?,
        Contender::AxumSessionPg => super::axum_session::app(&args, &counters).await?,
    };
    let app = app.merge(stats_route(counters));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
    axum::serve(listener, app)
        .await
        .map_err(|e| format!("server failed: {e}"))
}

/// Exits the process when standard input closes: the harness holds it open, so a harness that
/// is killed takes its contenders with it.
fn exit_with_harness() {
    tokio::spawn(async {
        let mut stdin = tokio::io::stdin();
        let mut buffer = [0u8; 64];
        loop {
            match tokio::io::AsyncReadExt::read(&mut stdin, &mut buffer).await {
                Ok(0) | Err(_) => std::process::exit(0),
                Ok(_) => {}
            }
        }
    });
}

/// `GET /__stats`, outside any session layer.
fn stats_route(counters: Arc<Counters>) -> Router {
    Router::new().route(
        "/__stats",
        get(move || {
            let counters = counters.clone();
            async move { Json(counters.snapshot()) }
        }),
    )
}

/// The form of `POST /login`.
#[derive(serde::Deserialize)]
pub struct LoginForm {
    /// Who logs in.
    pub user_id: String,
}

/// The body of `GET /me`.
pub fn me_body(user_id: &str) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "user_id": user_id }))
}
