//! Whether a subscription still delivers. A connection whose network path died without a word
//! (a NAT or firewall dropping an idle flow, a server host that vanished) fails nothing: a
//! `LISTEN` or `SUBSCRIBE` connection only reads, and waits for TCP to give up, many minutes.
//! So after a quiet spell the follower sends a probe of its own ([`Change::Nothing`]) through
//! the feed, and when not even that comes back in time, it takes the subscription as lost.
//!
//! [`Change::Nothing`]: super::Change::Nothing

use std::time::Duration;

use tokio::time::Instant;

/// How long without any notice (another instance's or its own) before a probe is sent. Any
/// instance's probe counts for every other, so a quiet cluster sends about one per interval.
pub(super) const PROBE_AFTER: Duration = Duration::from_secs(5);
/// How long a probe may take to come back before the subscription counts as lost.
pub(super) const PROBE_ANSWER: Duration = Duration::from_secs(5);

/// What the follower does on a quiet check.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Quiet {
    /// Nothing yet.
    Wait,
    /// Send a probe now.
    Probe,
    /// The probe did not come back: the subscription is lost.
    Lost,
}

/// What the follower has heard, and when it asked.
pub(super) struct Liveness {
    last_heard: Instant,
    probe_sent: Option<Instant>,
}

impl Liveness {
    /// A subscription that has just started.
    pub(super) fn new(now: Instant) -> Self {
        Self {
            last_heard: now,
            probe_sent: None,
        }
    }

    /// A notice arrived (any, its own probe included): the subscription delivers.
    pub(super) fn heard(&mut self, now: Instant) {
        self.last_heard = now;
        self.probe_sent = None;
    }

    /// Nothing arrived since the last check.
    pub(super) fn quiet(&mut self, now: Instant) -> Quiet {
        match self.probe_sent {
            Some(sent) if now.duration_since(sent) >= PROBE_ANSWER => Quiet::Lost,
            Some(_) => Quiet::Wait,
            None if now.duration_since(self.last_heard) >= PROBE_AFTER => {
                self.probe_sent = Some(now);
                Quiet::Probe
            }
            None => Quiet::Wait,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiet_spell_sends_one_probe_and_a_probe_unanswered_loses_the_subscription() {
        let start = Instant::now();
        let mut live = Liveness::new(start);
        assert_eq!(live.quiet(start + PROBE_AFTER / 2), Quiet::Wait);
        assert_eq!(live.quiet(start + PROBE_AFTER), Quiet::Probe);
        let sent = start + PROBE_AFTER;
        assert_eq!(
            live.quiet(sent + PROBE_ANSWER / 2),
            Quiet::Wait,
            "one probe"
        );
        // Answered: quiet again from then on.
        live.heard(sent + PROBE_ANSWER / 2);
        assert_eq!(live.quiet(sent + PROBE_ANSWER), Quiet::Wait);
        let again = sent + PROBE_ANSWER / 2 + PROBE_AFTER;
        assert_eq!(live.quiet(again), Quiet::Probe);
        assert_eq!(live.quiet(again + PROBE_ANSWER), Quiet::Lost);
    }
}
