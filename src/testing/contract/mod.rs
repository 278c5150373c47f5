//! The store contracts as public functions: the checks every [`SessionStore`] and
//! [`RevocationStore`](crate::jwt::RevocationStore) the crate ships passes, for a store of your
//! own (DynamoDB, MongoDB, ...) to pass too.
//!
//! [`session_store`] runs every clause of the [`SessionStore`] contract, one after another, on
//! the store you give it; [`revocation_store`] does the same for the JWT revocation list. Each
//! clause is also a function of its own in [`session_store_clauses`] and
//! [`revocation_store_clauses`], so a failing one can be run alone.
//!
//! A failed check panics with a message that names the clause and what differed, as `assert!`
//! does in a test. A store error where the contract expects success panics too.
//!
//! Give the suite a store that nothing else uses while it runs. The clauses do not need it
//! empty between them: each uses user ids of its own (a random suffix per call) and deletes the
//! sessions it created, but [`delete_expired`](SessionStore::delete_expired) counts every expired
//! session in the store, and so the batch counts of
//! [`delete_expired_in_batches`](session_store_clauses::delete_expired_in_batches) assume no
//! expired session but its own.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let store = sessionward::MemoryStore::new(); // or your own store, freshly set up
//! sessionward::testing::contract::session_store(&store).await;
//! # #[cfg(feature = "jwt")]
//! sessionward::testing::contract::revocation_store(&store).await;
//! # });
//! ```

use crate::store::SessionStore;

mod records;
#[cfg(feature = "jwt")]
pub mod revocation_store_clauses;
pub mod session_store_clauses;

/// Runs every clause of the [`SessionStore`] contract on `store`, in order: see
/// [`session_store_clauses`] for what each checks.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// sessionward::testing::contract::session_store(&sessionward::MemoryStore::new()).await;
/// # });
/// ```
///
/// # Panics
///
/// When `store` breaks a clause, or fails a call the contract expects to succeed.
pub async fn session_store(store: &dyn SessionStore) {
    use session_store_clauses as c;
    c::create_then_load_round_trips(store).await;
    c::create_never_overwrites(store).await;
    c::touch_extends_a_live_session(store).await;
    c::update_data_is_compare_and_swap(store).await;
    c::rotate_swaps_only_from_the_current_hash(store).await;
    c::reauthenticate_sets_only_authenticated_at(store).await;
    c::create_within_limit_makes_room_or_refuses(store).await;
    c::delete_only_by_the_owner(store).await;
    c::deleted_sessions_stay_deleted(store).await;
    c::list_is_newest_first_by_exact_user_id(store).await;
    c::delete_user_sessions_keeps_one_or_none(store).await;
    c::long_user_agents_never_fail_a_login(store).await;
    c::delete_expired_in_batches(store).await;
}

/// Runs every clause of the [`RevocationStore`](crate::jwt::RevocationStore) contract on
/// `store`, in order: see [`revocation_store_clauses`] for what each checks.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// sessionward::testing::contract::revocation_store(&sessionward::MemoryStore::new()).await;
/// # });
/// ```
///
/// # Panics
///
/// When `store` breaks a clause, or fails a call the contract expects to succeed.
#[cfg(feature = "jwt")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
pub async fn revocation_store(store: &dyn crate::jwt::RevocationStore) {
    use revocation_store_clauses as c;
    c::revocations_round_trip_and_since_filters(store).await;
    c::expired_revocations_are_hidden_and_deleted_in_batches(store).await;
}
