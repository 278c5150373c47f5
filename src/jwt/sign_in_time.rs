//! [`SignInTime`]: the `auth_time` claim (and `data_at`, dated the same way), kept to the
//! microsecond.
//!
//! A revocation of all of a user's sessions covers the tokens signed in at or before it. In
//! whole seconds, a token signed in during the same second *after* the revocation cannot be
//! told apart from one signed in before it, so it used to be dated one second ahead: a token
//! whose `iat` lay in the future, which PyJWT (and this crate with a leeway under a second)
//! rejected. To the microsecond, the finest time every store keeps, a token signed in after
//! the revocation carries a later time than the revocation and no time in the future.
//!
//! RFC 7519 allows a NumericDate to be a non-integer number of seconds: a whole second is
//! written as an integer (as every token issued before this change), any other time with up to
//! six decimals.

use serde::de::{Error as _, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

const MICROS: i64 = 1_000_000;

/// The last date-time, 9999-12-31 23:59:59.999999 UTC, in microseconds since the Unix epoch.
const LAST_MICROS: i64 = 253_402_300_799_999_999;

/// When a session was signed in: microseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SignInTime(i64);

impl SignInTime {
    /// `t`, truncated to the microsecond.
    pub(crate) fn at(t: OffsetDateTime) -> Self {
        Self(crate::clock::unix_micros(t))
    }

    /// One microsecond later: the earliest time after this one; the last date-time stays the
    /// last (a revocation list entry may be dated there: what is dated after it must still
    /// be a date-time, covered by it).
    pub(crate) fn next(self) -> Self {
        Self(self.0.saturating_add(1).min(LAST_MICROS))
    }

    /// One microsecond earlier: the latest time before this one.
    pub(crate) fn previous(self) -> Self {
        Self(self.0.saturating_sub(1))
    }

    /// Microseconds since the Unix epoch.
    pub(crate) fn micros(self) -> i64 {
        self.0
    }

    /// `micros` microseconds since the Unix epoch.
    pub(crate) fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// The whole seconds, rounded down: what `iat` and the lifetime limits compare with.
    pub(crate) fn whole_seconds(self) -> i64 {
        self.0.div_euclid(MICROS)
    }

    /// As a date-time, clamped to the range of date-times: the verifier never lets a time
    /// outside it in, and one microsecond after the last date-time (after a revocation list
    /// entry dated there) stays the last, never wrapping to a time that covers nothing.
    pub(crate) fn to_datetime(self) -> OffsetDateTime {
        crate::clock::from_unix_micros(self.0).unwrap_or(if self.0 > 0 {
            time::PrimitiveDateTime::MAX.assume_utc()
        } else {
            time::PrimitiveDateTime::MIN.assume_utc()
        })
    }
}

impl Serialize for SignInTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0 % MICROS == 0 {
            serializer.serialize_i64(self.0 / MICROS)
        } else {
            serializer.serialize_f64(self.0 as f64 / MICROS as f64)
        }
    }
}

impl<'de> Deserialize<'de> for SignInTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NumericDate;
        impl Visitor<'_> for NumericDate {
            type Value = SignInTime;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a NumericDate")
            }
            fn visit_i64<E: serde::de::Error>(self, seconds: i64) -> Result<SignInTime, E> {
                seconds
                    .checked_mul(MICROS)
                    .map(SignInTime)
                    .ok_or_else(|| E::custom("time out of range"))
            }
            fn visit_u64<E: serde::de::Error>(self, seconds: u64) -> Result<SignInTime, E> {
                let seconds = i64::try_from(seconds).map_err(|_| E::custom("time out of range"))?;
                self.visit_i64(seconds)
            }
            fn visit_f64<E: serde::de::Error>(self, seconds: f64) -> Result<SignInTime, E> {
                let micros = (seconds * MICROS as f64).round();
                if !micros.is_finite() || micros.abs() >= i64::MAX as f64 {
                    return Err(E::custom("time out of range"));
                }
                Ok(SignInTime(micros as i64))
            }
        }
        deserializer
            .deserialize_any(NumericDate)
            .map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_time_past_the_last_date_time_is_the_last_never_the_epoch() {
        let last = time::PrimitiveDateTime::MAX.assume_utc();
        assert_eq!(SignInTime::at(last), SignInTime(LAST_MICROS));
        assert_eq!(SignInTime::at(last).next(), SignInTime::at(last));
        let past = SignInTime(LAST_MICROS + 1);
        assert!(past.to_datetime() >= SignInTime::at(last).to_datetime());
        let first = time::PrimitiveDateTime::MIN.assume_utc();
        assert_eq!(SignInTime(i64::MIN).to_datetime(), first);
    }

    #[test]
    fn whole_seconds_stay_integers_and_fractions_round_trip_to_the_microsecond() {
        let whole = SignInTime::at(datetime!(2030-01-01 0:00 UTC));
        assert_eq!(serde_json::to_string(&whole).unwrap(), "1893456000");
        for t in [
            datetime!(2030-01-01 0:00:00.000001 UTC),
            datetime!(2030-01-01 0:00:00.999999 UTC),
            datetime!(2105-12-31 23:59:59.999999 UTC),
        ] {
            let precise = SignInTime::at(t);
            let json = serde_json::to_string(&precise).unwrap();
            assert!(json.contains('.'), "{json}");
            assert_eq!(
                serde_json::from_str::<SignInTime>(&json).unwrap(),
                precise,
                "{json}"
            );
            assert_eq!(precise.to_datetime(), t);
            assert_eq!(precise.whole_seconds(), t.unix_timestamp());
        }
    }

    #[test]
    fn anything_but_a_number_in_range_is_refused() {
        for bad in ["\"x\"", "null", "1e300", "-1e300", &i64::MIN.to_string()] {
            assert!(serde_json::from_str::<SignInTime>(bad).is_err(), "{bad}");
        }
        assert_eq!(
            serde_json::from_str::<SignInTime>("-1.5")
                .unwrap()
                .whole_seconds(),
            -2
        );
    }
}
