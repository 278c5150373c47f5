//! What tests of an application need and production code does not.
//!
//! - [`ManualClock`]: the handle that moves a [`Clock::manual`](crate::Clock::manual) forward,
//!   so a test reaches an expiry, an idle timeout or a sliding refresh without waiting. Always
//!   available.
//! - [`SignedIn`] (feature `test-util`): a new session of user U with data D, as a `Cookie` or
//!   `Authorization` header, made through the application's own layer, in one call.
//! - [`contract`] (feature `test-util`): the [`SessionStore`](crate::SessionStore) and
//!   [`RevocationStore`](crate::jwt::RevocationStore) contracts as public functions, for a store
//!   of your own to pass the checks the shipped stores pass.
//!
//! ```toml
//! [dev-dependencies]
//! sessionward = { version = "0.1", features = ["test-util"] }
//! ```
//!
//! Moving the layer's clock:
//!
//! ```
//! use sessionward::{Clock, SessionConfig};
//! use sessionward::testing::ManualClock;
//!
//! let (clock, control): (Clock, ManualClock) = Clock::manual(time::OffsetDateTime::UNIX_EPOCH);
//! let config = SessionConfig::default().clock(clock.clone()); // the layer reads this clock
//! control.advance(time::Duration::hours(1));
//! assert_eq!(clock.now().unix_timestamp(), 3_600);
//! ```
//!
//! In-process requests (`tower::ServiceExt::oneshot`) need no `Host` or `Origin` header: a
//! request without `Origin` and `Sec-Fetch-Site` is not a browser's cross-origin request, so the
//! layer's cross-origin check lets it through. A test that plays a browser sending a
//! POST/PUT/PATCH/DELETE with `Origin` must send a matching `Host` too
//! (`Origin: http://app.test` with `Host: app.test`), or the request is refused with 403 like a
//! forged one; or configure [`public_origin`](crate::SessionConfig::public_origin).

pub use crate::clock::ManualClock;

#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod contract;
#[cfg(feature = "test-util")]
mod sign_in;
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub use sign_in::SignedIn;
