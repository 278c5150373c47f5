//! One integration-test binary (fewer binaries, faster builds). `cases` is the generic
//! HTTP-level suite; the `suite!` macro below runs every case against every store.

// First: its `app!` macro serves the modules after it.
#[macro_use]
mod support;

mod attacks;
#[cfg(feature = "authjs")]
mod authjs;
// Auth.js database sessions read PostgreSQL: the module needs `postgres` too.
#[cfg(all(feature = "authjs", feature = "postgres"))]
mod authjs_database;
mod backends;
// Concurrent loads sharing statements (issue 15).
#[cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod batching;
// Better Auth sessions on PostgreSQL, MariaDB and SQLite (issue 18).
#[cfg(all(feature = "betterauth", feature = "postgres", feature = "mysql"))]
mod betterauth;
mod browser;
mod cases;
mod configuration;
// Next to tower-cookies and axum-extra's cookie jars (issue 16).
mod cookie_jars;
// Moving users to another session cookie without signing them out (issue 13, item 5).
mod cookie_migration;
mod demo;
// Device limits: max_sessions_per_user (issue 17).
mod device_limit;
// Session events (issue 17).
mod events;
mod faults;
// Step-up freshness (issue 17).
mod freshness;
mod guards;
mod instances;
mod isolation;
// The JWT revocation list's bounds: entries last as long as their tokens, and a full list
// ends more, never less.
#[cfg(feature = "jwt")]
mod jwt_bounds;
#[cfg(feature = "jwt")]
mod jwt_cases;
// The direction of the crate's internal dependencies (issue 14).
#[cfg(feature = "jwt")]
mod jwt_edges;
mod layout;
// Metrics and the request span (issue 17).
#[cfg(feature = "metrics")]
mod metrics;
mod migrations;
// The README's nginx example in a real nginx (issue 13, item 3).
mod nginx;
// Change notices from outside: signals, never data.
mod notices;
// Cross-origin protection for every state-changing browser request (issue 13, item 2).
mod origin;
mod properties;
// Extractor rejections in axum's style, and answers the application shapes (issue 14).
mod rejections;
// The recipes of docs/recipes.md that no other module proves (issue 16).
mod recipes;
// Reverse proxies and the request's own origin (issue 13, item 3).
mod proxies;
// Remember me: browser-session cookies with a shorter lifetime (issue 17).
mod remember;
// The Redis store's cross-slot protocol under concurrency (feature `redis`).
mod redis_keys;
mod redis_races;
mod silent_network;
mod store_contract;
// A store written against the public API only, proven by the public contract suite (issue 16).
mod third_party_store;
mod user_sessions;
// sessionward::testing::SignedIn on both strategies (issue 16).
mod testing_helpers;

// Every case on database sessions, and again with the in-process session cache on: the cache
// must change nothing a client sees.
suite!(cases => database, Database; database_cached, DatabaseCached:
    login_sets_a_secure_cookie_and_the_session_resolves,
    missing_session_is_401_and_optional_is_none,
    requests_that_never_ask_cost_no_store_call,
    guards_answer_401_403_and_redirect,
    login_rotates_away_the_session_it_came_with,
    a_token_chosen_by_the_client_is_never_accepted,
    logout_kills_the_session_and_clears_the_cookie,
    rotation_issues_a_new_token_and_kills_the_old,
    a_request_still_carrying_a_replaced_token_leaves_the_new_cookie_alone,
    an_extension_whose_session_was_rotated_meanwhile_sends_no_cookie,
    sliding_refresh_writes_only_after_update_age,
    expired_sessions_are_rejected_before_cleanup,
    idle_timeout_ends_an_unused_session,
    absolute_timeout_caps_every_extension,
    explicit_refresh_extends_now,
    list_and_revoke_own_sessions,
    revoke_others_keeps_only_this_session,
    revoke_all_ends_every_session_of_the_user,
    data_updates_are_stored,
    data_no_backend_can_store_is_refused_on_every_backend,
    concurrent_updates_keep_every_write,
    a_stale_plain_update_is_a_conflict_not_a_lost_write,
    garbage_cookies_are_401_and_cleared_without_a_store_query,
    bearer_tokens_work_for_api_clients,
    cross_origin_state_changes_with_the_cookie_are_refused,
    the_store_never_holds_the_raw_token_and_rows_make_no_cookie,
    cleanup_deletes_only_expired_sessions_in_batches,
);

// The cache's own bound (cached cells only; the cases above run with the cache too).
suite!(cases => cache_bound, DatabaseCached:
    the_cache_bounds_what_other_instances_changes_take,
    a_session_ended_while_its_login_finishes_is_not_answered_from_the_cache,
);

// The cases that apply to JWT sessions (the store holds the revocation list). Left out: the
// ones about stored session rows, per-device lists, and server-side merging of concurrent data
// changes, which a stateless token cannot do; `jwt_cases` covers what is JWT-specific.
#[cfg(feature = "jwt")]
suite!(cases => jwt, Jwt:
    login_sets_a_secure_cookie_and_the_session_resolves,
    missing_session_is_401_and_optional_is_none,
    requests_that_never_ask_cost_no_store_call,
    guards_answer_401_403_and_redirect,
    login_rotates_away_the_session_it_came_with,
    a_token_chosen_by_the_client_is_never_accepted,
    logout_kills_the_session_and_clears_the_cookie,
    rotation_issues_a_new_token_and_kills_the_old,
    a_request_still_carrying_a_replaced_token_leaves_the_new_cookie_alone,
    an_extension_whose_session_was_rotated_meanwhile_sends_no_cookie,
    expired_sessions_are_rejected_before_cleanup,
    idle_timeout_ends_an_unused_session,
    absolute_timeout_caps_every_extension,
    explicit_refresh_extends_now,
    revoke_others_keeps_only_this_session,
    revoke_all_ends_every_session_of_the_user,
    data_updates_are_stored,
    garbage_cookies_are_401_and_cleared_without_a_store_query,
    bearer_tokens_work_for_api_clients,
    cross_origin_state_changes_with_the_cookie_are_refused,
);
