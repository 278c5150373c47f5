//! The session events the demo keeps: the hook given to `SessionConfig::events` writes each
//! event into a bounded in-memory ring (the newest 1,000), which the admin page and
//! `GET /api/admin/events` read.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use sessionward::{SessionEvent, SessionEvents};
use time::OffsetDateTime;
use uuid::Uuid;

/// How many events the ring keeps; older ones make room for newer ones.
pub const KEPT: usize = 1_000;

/// One recorded event, as `GET /api/admin/events` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Recorded {
    /// `created`, `refreshed`, `data_updated`, `logged_out`, ... (`SessionEventKind::name`).
    pub kind: &'static str,
    pub user_id: Option<String>,
    /// The id `/api/sessions` shows.
    pub session_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

impl From<SessionEvent> for Recorded {
    fn from(event: SessionEvent) -> Self {
        Recorded {
            kind: event.kind.name(),
            user_id: event.user_id,
            session_id: event.session_id,
            at: event.at,
        }
    }
}

/// The newest [`KEPT`] events, oldest first.
#[derive(Default)]
pub struct EventLog {
    ring: Mutex<VecDeque<Recorded>>,
}

impl EventLog {
    /// The hook that records the layer's events here.
    pub fn hook(self: &Arc<Self>) -> SessionEvents {
        let log = Arc::clone(self);
        SessionEvents::new(move |event| {
            log.push(Recorded::from(event));
            async {}
        })
    }

    fn push(&self, event: Recorded) {
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        if ring.len() == KEPT {
            ring.pop_front();
        }
        ring.push_back(event);
    }

    /// The newest `limit` events, newest first.
    pub fn newest(&self, limit: usize) -> Vec<Recorded> {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        ring.iter().rev().take(limit).cloned().collect()
    }
}
