//! The Redis store's per-user keys on a cluster: whatever the user id (empty, or holding the
//! braces that delimit a hash tag), all of a user's keys share one slot, so the scripts that
//! change them together never meet CROSSSLOT.

use sessionward::{Clock, SessionRecord};

use crate::backends::{Backend, fresh_store};

/// User ids that used to pick a different hash tag (or none) for each of a user's keys.
const AWKWARD_USER_IDS: [&str; 7] = ["", "{", "}", "a{b}c", "{}", "}{", "{user}"];

fn record(user_id: &str) -> SessionRecord {
    crate::support::session_record(user_id, Clock::system().now())
}

async fn any_user_id_keeps_its_keys_in_one_slot(backend: Backend) {
    let Some(test) = fresh_store(backend).await else {
        return;
    };
    let s = &*test.store;
    for user in AWKWARD_USER_IDS {
        let (a, b, c) = (record(user), record(user), record(user));
        for r in [&a, &b, &c] {
            s.create(r)
                .await
                .unwrap_or_else(|e| panic!("{user:?}: {e}"));
        }
        let listed = s.list_user_sessions(user).await.unwrap();
        assert_eq!(listed.len(), 3, "{user:?}");
        assert!(s.delete(user, a.id).await.unwrap(), "{user:?}");
        assert_eq!(
            s.delete_user_sessions(user, Some(b.id)).await.unwrap(),
            1,
            "{user:?}"
        );
        let left = s.list_user_sessions(user).await.unwrap();
        assert_eq!(
            left.iter().map(|r| r.id).collect::<Vec<_>>(),
            [b.id],
            "{user:?}"
        );
        assert!(s.load(&c.token_hash).await.unwrap().is_none(), "{user:?}");
    }
    // Users stay apart: "{" and "}" are not one user because both tags were odd.
    for user in AWKWARD_USER_IDS {
        assert_eq!(
            s.list_user_sessions(user).await.unwrap().len(),
            1,
            "{user:?}"
        );
    }
}

#[tokio::test]
async fn any_user_id_keeps_its_keys_in_one_slot_on_a_cluster() {
    any_user_id_keeps_its_keys_in_one_slot(Backend::RedisCluster).await;
}

#[tokio::test]
async fn any_user_id_keeps_its_keys_in_one_slot_on_one_server() {
    any_user_id_keeps_its_keys_in_one_slot(Backend::Redis).await;
}
