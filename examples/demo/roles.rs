//! Changing a user's role: in the user table (the next login gets it) and in every live
//! session of the user (each sees it on its next request), for the admin's JSON route and form.

use serde_json::json;
use sessionward::{Error, Sessions};

use crate::AppState;
use crate::users::Role;

/// Gives `user_id` the role `role` and its permissions, in the user table and in the user's
/// live sessions. `Ok(None)` when there is no such user; otherwise how many live sessions were
/// changed (always 0 on JWT sessions: tokens cannot be counted; each picks the change up when
/// it comes back, and a bearer token issued before it is refused).
pub async fn change_role(
    state: &AppState,
    sessions: &Sessions,
    user_id: &str,
    role: Role,
) -> Result<Option<u64>, Error> {
    if state.users.set_role(user_id, role).is_none() {
        return Ok(None);
    }
    let patch = json!({ "role": role.name(), "permissions": role.permissions() });
    // Sessions changed before a failure stay changed; calling again applies the patch once.
    let changed = sessions.update_user_sessions(user_id, &patch).await?;
    tracing::info!(
        user_id,
        role = role.name(),
        sessions = changed,
        "role changed"
    );
    Ok(Some(changed))
}
