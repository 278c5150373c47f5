//! Change notices from outside: any PostgreSQL role that can connect may `NOTIFY` on
//! `sessionward_changes`, anyone who can insert into MySQL's `sessionward_changes` or `PUBLISH`
//! on Redis can send one. A notice is a signal, never data: forged ones can make an instance
//! drop copies or re-read the store, never change who is signed in, and a flood of them costs
//! a bounded number of store queries. Each engine is driven as an outsider would
//! ([`TestStore::forge_notices`]: on PostgreSQL from a role with no privilege on any table).

use std::sync::Arc;
use std::time::{Duration, Instant};

use sessionward::{Clock, SessionConfig, SessionLayer};
use uuid::Uuid;

use crate::backends::{Backend, TestStore, fresh_store};
use crate::instances::{Instance, Mode};
use crate::support::{CountingRevocations, Counts, START, jwt_config, router, user};

/// A notice in the format that carried revocations as data (version 1): what the review sent.
fn forged_revocation(
    session: Option<Uuid>,
    user: Option<&str>,
    revoked_at_micros: i64,
    expires_at_micros: i64,
) -> String {
    serde_json::json!({
        "v": 1,
        "from": Uuid::new_v4(),
        "change": { "revocation": {
            "id": Uuid::new_v4(),
            "session": session,
            "user": user,
            "revoked_at": revoked_at_micros,
            "expires_at": expires_at_micros,
        }},
    })
    .to_string()
}

/// The same payload under today's version number (which has no such variant).
fn as_current_version(notice: &str) -> String {
    notice.replacen("\"v\":1", "\"v\":2", 1)
}

/// A JWT instance on `store` whose clock the test moves, its revocation reads counted.
fn jwt_instance(store: &TestStore) -> (Instance, sessionward::testing::ManualClock) {
    let (clock, control) = Clock::manual(START);
    let counts = Arc::new(Counts::default());
    let layer = SessionLayer::jwt(
        jwt_config().revocation_refresh(Duration::from_millis(100)),
        CountingRevocations::new(store.revocations.clone(), counts.clone()),
        SessionConfig::default().clock(clock),
    );
    (Instance(router(layer), counts), control)
}

/// Reproduced by the review on PostgreSQL: a revocation notice naming a logged-out session
/// with `expires_at: 0`, sent after the list's look-back window had passed the logout, made
/// the revoked token valid again until the process restarted.
async fn a_forged_notice_never_brings_a_revoked_token_back(backend: Backend) {
    let Some(store) = fresh_store(backend).await else {
        return;
    };
    let (a, clock) = jwt_instance(&store);
    let token = a.login(&user()).await;
    let sid: Uuid = a.session_id(&token).await.parse().expect("a uuid");
    let reply = a.call("POST", "/logout", Some(&token)).await;
    assert!(reply.status.is_success(), "logout: {}", reply.status);
    assert!(!a.accepts(&token).await);

    // A minute later (past the 30 s look-back of every refresh), after a few refreshes...
    clock.advance(time::Duration::minutes(1));
    tokio::time::sleep(Duration::from_millis(400)).await;
    // ...an outsider says the session's revocation expired long ago, in both versions.
    let forged = forged_revocation(Some(sid), None, 0, 0);
    assert!(
        store
            .forge_notices(&[forged.clone(), as_current_version(&forged)])
            .await
    );
    // Several refreshes later, the token is still revoked.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !a.accepts(&token).await,
        "{backend:?}: a forged notice brought a revoked token back"
    );
}

/// Reproduced by the review: a user revocation notice dated in year 9999 locked that user
/// out of every new login until restart.
async fn a_forged_user_revocation_locks_nobody_out(backend: Backend) {
    let Some(store) = fresh_store(backend).await else {
        return;
    };
    let (a, _clock) = jwt_instance(&store);
    let victim = user();
    // The instance follows the feed once it served a request.
    let before = a.login(&victim).await;
    assert!(a.accepts(&before).await);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let year_9999 = 253_402_300_799_000_000_i64;
    let forged = forged_revocation(None, Some(&victim), year_9999, year_9999);
    assert!(
        store
            .forge_notices(&[forged.clone(), as_current_version(&forged)])
            .await
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        a.accepts(&before).await,
        "{backend:?}: a forged notice ended a session"
    );
    let after = a.login(&victim).await;
    assert!(
        a.accepts(&after).await,
        "{backend:?}: a forged notice locked the user out of new logins"
    );
}

/// 2,000 junk notices (unreadable text, forged revocations with long user ids, forged
/// session ids): the instance re-reads its revocation list at most once per 50 ms (not once
/// per notice), keeps serving, and still honours a real revocation made on another instance
/// through the feed afterwards.
async fn a_notice_flood_costs_a_bounded_number_of_store_reads(backend: Backend) {
    let Some(store) = fresh_store(backend).await else {
        return;
    };
    let mode = Mode::Jwt { notices: true };
    let (a, b) = (Instance::new(mode, &store), Instance::new(mode, &store));
    let token = b.login(&user()).await;
    assert!(a.accepts(&token).await);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let flood: Vec<String> = (0..2_000)
        .map(|i| match i % 4 {
            0 => format!("junk {i}"),
            1 => {
                let user = format!("{i}-{}", "u".repeat(2_000));
                forged_revocation(None, Some(&user), i64::from(i), 253_402_300_799_000_000)
            }
            2 => as_current_version(&forged_revocation(Some(Uuid::new_v4()), None, 0, 0)),
            _ => serde_json::json!({
                "v": 2, "from": Uuid::new_v4(), "change": { "session": Uuid::new_v4() },
            })
            .to_string(),
        })
        .collect();
    let reads_before = a.1.loads();
    let started = Instant::now();
    assert!(store.forge_notices(&flood).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let elapsed = started.elapsed();
    let reads = a.1.loads() - reads_before;
    println!(
        "NOTICE FLOOD {backend:?}: 2,000 forged notices in {elapsed:?} cost {reads} revocation reads"
    );
    // One re-read per 50 ms at most, plus the ones a resubscription (MySQL: a window holding
    // more rows than one poll reads) and the periodic refresh make.
    let bound = elapsed.as_millis() / 50 + 4;
    assert!(
        reads as u128 <= bound,
        "{backend:?}: {reads} store reads for a flood over {elapsed:?} (bound {bound})"
    );
    assert!(
        a.accepts(&token).await,
        "{backend:?}: the flood ended a session"
    );

    // The feed still carries real notices.
    let (delay, _) = b.logout_seen_by(&token, &[&a]).await;
    // MySQL: the flood's rows stay in the 2 s window; the follower reads again once they left.
    let bound = mode.bound() + Duration::from_secs(if backend == Backend::MySql { 5 } else { 0 });
    assert!(
        delay <= bound,
        "{backend:?}: a real revocation after the flood took {delay:?}"
    );
}

/// A notice larger than any instance sends is junk: ignored without a store read (it used to
/// be parsed, found unreadable, and made the instance drop every copy), and without keeping
/// more than a notice's worth of it.
async fn an_oversized_notice_is_ignored(backend: Backend) {
    let Some(store) = fresh_store(backend).await else {
        return;
    };
    let a = Instance::new(Mode::Cached { notices: true }, &store);
    let token = a.login(&user()).await;
    a.keeps_its_copy(&token).await;
    // PostgreSQL refuses payloads of 8,000 bytes or more; MySQL's TEXT holds 65,535.
    let size = match backend {
        Backend::Postgres => 7_990,
        Backend::MySql => 60_000,
        _ => 1 << 20,
    };
    let loads = a.1.loads();
    assert!(store.forge_notices(&["x".repeat(size)]).await);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(a.accepts(&token).await);
    assert_eq!(
        a.1.loads(),
        loads,
        "{backend:?}: an oversized notice dropped the cached copies"
    );
}

per_engine!(
    a_forged_notice_never_brings_a_revoked_token_back,
    a_forged_user_revocation_locks_nobody_out,
    a_notice_flood_costs_a_bounded_number_of_store_reads,
    an_oversized_notice_is_ignored,
);

// ---------------------------------------------------------------------------------------------
// MySQL's polled feed
// ---------------------------------------------------------------------------------------------

/// The next notice `receiver` gets within `within`: `Some(Some(notice))`, `Some(None)` when
/// the subscription ended (the follower then drops every copy and subscribes again), `None`
/// when nothing came at all.
async fn next_notice(
    receiver: &mut tokio::sync::mpsc::Receiver<String>,
    within: Duration,
) -> Option<Option<String>> {
    tokio::time::timeout(within, receiver.recv()).await.ok()
}

/// Following PostgreSQL's notices takes a connection of its own: `PgListener` on the
/// application's pool held one of its connections for as long as the subscription lasted (so
/// a pool of one answered every later load with a timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_following_notices_takes_no_connection_from_the_pool() {
    let Some(url) = crate::backends::server_url(Backend::Postgres) else {
        return;
    };
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(2))
        .connect(&url)
        .await
        .expect("connect to PostgreSQL");
    let store = sessionward::PostgresStore::new(pool.clone());
    let feed = sessionward::SessionStore::change_feed(&store).expect("PostgreSQL has a feed");
    let mut receiver = feed.subscribe().await.expect("subscribe");
    sqlx::query("SELECT 1")
        .execute(&pool)
        .await
        .expect("the pool's one connection is free while the feed is followed");
    let notice = format!("free-{}", Uuid::new_v4());
    feed.publish(&notice).await.expect("publish");
    // Other tests publish on the same channel: wait for this one.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match next_notice(&mut receiver, left).await {
            Some(Some(got)) if got == notice => break,
            Some(Some(_)) => continue,
            other => panic!("the notice never came: {other:?}"),
        }
    }
}

/// A layer with notices on PostgreSQL can be built where no runtime runs (its feed's own
/// connection pool is made by the first subscription, with no maintenance task to spawn).
#[test]
fn postgres_a_layer_following_notices_is_built_outside_a_runtime() {
    let Some(url) = crate::backends::server_url(Backend::Postgres) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let pool = runtime
        .block_on(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(&url),
        )
        .expect("connect to PostgreSQL");
    // Not inside the runtime from here on.
    let config = SessionConfig::default()
        .cache(sessionward::SessionCache::new(Duration::from_secs(5)))
        .change_notices(true);
    let layer = SessionLayer::database(sessionward::PostgresStore::new(pool), config);
    drop(layer);
    drop(runtime);
}

/// Anyone who may insert into `sessionward_changes` may date rows themselves. Rows dated a
/// day ahead stayed in every poll's window until that day: past 1,000 of them, every poll
/// ended the subscription (the flood rule), so no instance kept a cached copy for a day. They
/// are no notice now (the default dates every honest row), and the cleanup removes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_rows_dated_ahead_are_no_notice_and_crowd_out_none() {
    let Some(store) = fresh_store(Backend::MySql).await else {
        return;
    };
    let pool = store.mysql_pool().expect("a MySQL store").clone();
    let feed = store.revocations.change_feed().expect("MySQL has a feed");
    // MariaDB stops a recursive query at 1,000 iterations: two batches of 550.
    for _ in 0..2 {
        sqlx::query(
            "INSERT INTO sessionward_changes (notice, created_at) \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 550) \
             SELECT 'from tomorrow', NOW(6) + INTERVAL 1 DAY FROM n",
        )
        .execute(&pool)
        .await
        .expect("insert rows dated a day ahead");
    }
    let mut receiver = feed.subscribe().await.expect("subscribe");
    for notice in ["first", "second"] {
        feed.publish(notice).await.expect("publish");
        let got = next_notice(&mut receiver, Duration::from_secs(2)).await;
        assert_eq!(got, Some(Some(notice.to_owned())), "{notice}");
    }
}

/// A poll on a connection whose network path died without a word waited for TCP to give up
/// (many minutes), and the subscription with it: no notice came, and nothing told the follower
/// to stop trusting its copies. Now a poll that does not answer within the longest gap between
/// polls ends the subscription.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_a_poll_that_never_answers_ends_the_subscription() {
    let Some(store) = fresh_store(Backend::MySql).await else {
        return;
    };
    let options = (*store.mysql_pool().expect("a MySQL store").connect_options()).clone();
    let target = format!("{}:{}", options.get_host(), options.get_port());
    let proxy = crate::silent_network::FreezingProxy::start(target).await;
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(2)
        .connect_with(options.host("127.0.0.1").port(proxy.addr.port()))
        .await
        .expect("connect through the proxy");
    let proxied = sessionward::MySqlStore::new(pool);
    let feed = sessionward::SessionStore::change_feed(&proxied).expect("MySQL has a feed");
    let mut receiver = feed.subscribe().await.expect("subscribe");
    feed.publish("through the proxy").await.expect("publish");
    assert_eq!(
        next_notice(&mut receiver, Duration::from_secs(2)).await,
        Some(Some("through the proxy".to_owned()))
    );
    proxy.freeze();
    assert_eq!(
        next_notice(&mut receiver, Duration::from_secs(5)).await,
        Some(None),
        "the subscription ends"
    );
}

/// A row ages out of the 2-second window a poll reads. When polls came further apart than
/// that (here: the runtime of the follower was blocked for 3 s), the rows in between were
/// missed without a word, and copies they should have ended stayed. Now the subscription
/// ends, and the follower drops its copies and starts again.
#[tokio::test]
async fn mysql_polls_too_far_apart_end_the_subscription_instead_of_missing_notices() {
    let Some(store) = fresh_store(Backend::MySql).await else {
        return;
    };
    let feed = store.revocations.change_feed().expect("MySQL has a feed");
    let mut receiver = feed.subscribe().await.expect("subscribe");
    feed.publish("before").await.expect("publish");
    assert_eq!(
        next_notice(&mut receiver, Duration::from_secs(2)).await,
        Some(Some("before".to_owned()))
    );
    // Another instance publishes while this test's runtime (the follower's) is blocked.
    let options = (*store.mysql_pool().expect("a MySQL store").connect_options()).clone();
    let other = std::thread::spawn(move || {
        use sqlx::Connection as _;
        std::thread::sleep(Duration::from_millis(200));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let mut other = sqlx::MySqlConnection::connect_with(&options)
                .await
                .expect("connect as another instance");
            sqlx::query("INSERT INTO sessionward_changes (notice) VALUES ('while blocked')")
                .execute(&mut other)
                .await
                .expect("publish from another instance");
        });
    });
    std::thread::sleep(Duration::from_secs(3));
    other.join().expect("the publishing thread");
    match next_notice(&mut receiver, Duration::from_secs(2)).await {
        Some(Some(notice)) => assert_eq!(notice, "while blocked"),
        Some(None) => {} // ended: the follower starts afresh
        None => panic!("the notice was missed and the subscription went on"),
    }
}
