//! Rate limits: token buckets per client and per object type, bounded in memory.
//!
//! A gate admits every call under its [`RateLimit`]s
//! ([`GateConfig::rate_limits`](crate::gate::GateConfig), or `rate_limits:` in the cluster
//! file). Each limit is a token bucket that holds at most `burst` tokens and refills at
//! `per_second`; a call takes one token from every bucket that applies to it, or from none if
//! one of them is empty. A refused call fails with
//! [`ErrorKind::ResourceExhausted`](crate::ErrorKind::ResourceExhausted), the code
//! [`RATE_LIMITED`] and a message that ends with `retry after <n> ms`; [`retry_after`] reads
//! the delay back (the HTTP gate sends it as `Retry-After`).
//!
//! Buckets are created on first use. A bucket that has refilled completely holds no
//! information, so it is dropped when the table is full; if every bucket is still in use, the
//! one idle longest is dropped. The table therefore never holds more than its capacity.

use std::collections::HashMap;
use std::time::Duration;

use parking_lot::Mutex;
use serde::Deserialize;
use tokio::time::Instant;

use crate::error::{Error, ErrorKind};

/// The error code of a call refused by a rate limit.
pub const RATE_LIMITED: &str = "goverse.rate_limited";

/// Default largest number of buckets a limiter keeps.
pub const DEFAULT_BUCKET_CAPACITY: usize = 100_000;

/// What a rate limit counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RateScope {
    /// Each client on its own: by identity, else client id, else peer address.
    PerClient,
    /// All calls to objects of this type, from every client together.
    PerType(String),
}

/// One token bucket per scope key: at most `burst` calls at once, `per_second` on average.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimit {
    /// What the limit counts.
    pub scope: RateScope,
    /// Calls per second, on average (greater than 0).
    pub per_second: f64,
    /// Calls that may come at once after a quiet period (at least 1).
    pub burst: u32,
}

impl RateLimit {
    /// A limit for each client.
    pub fn per_client(per_second: f64, burst: u32) -> Self {
        RateLimit {
            scope: RateScope::PerClient,
            per_second,
            burst,
        }
    }

    /// A limit for all calls to objects of `type_name`.
    pub fn per_type(type_name: impl Into<String>, per_second: f64, burst: u32) -> Self {
        RateLimit {
            scope: RateScope::PerType(type_name.into()),
            per_second,
            burst,
        }
    }

    /// Checks the numbers; `what` names the limit in the error (`rate_limits[1]`).
    pub fn validate(&self, what: &str) -> crate::Result<()> {
        if !(self.per_second.is_finite() && self.per_second > 0.0) {
            return Err(Error::invalid_argument(format!(
                "{what}.per_second: must be a number greater than 0, not {}",
                self.per_second
            )));
        }
        if self.burst == 0 {
            return Err(Error::invalid_argument(format!(
                "{what}.burst: must be at least 1"
            )));
        }
        if let RateScope::PerType(name) = &self.scope
            && name.trim().is_empty()
        {
            return Err(Error::invalid_argument(format!(
                "{what}.type: must not be empty"
            )));
        }
        Ok(())
    }
}

/// How a rate limit is written in the cluster file:
/// `{scope: client, per_second: 20, burst: 40}` or
/// `{scope: type, type: ChatRoom, per_second: 500, burst: 1000}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitEntry {
    scope: ScopeKeyword,
    #[serde(rename = "type", default)]
    type_name: Option<String>,
    per_second: f64,
    burst: u32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ScopeKeyword {
    Client,
    Type,
}

impl<'de> Deserialize<'de> for RateLimit {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let entry = RateLimitEntry::deserialize(deserializer)?;
        let scope = match (entry.scope, entry.type_name) {
            (ScopeKeyword::Client, None) => RateScope::PerClient,
            (ScopeKeyword::Client, Some(_)) => {
                return Err(D::Error::custom(
                    "`type` is only for `scope: type`; a client limit counts every type",
                ));
            }
            (ScopeKeyword::Type, Some(name)) => RateScope::PerType(name),
            (ScopeKeyword::Type, None) => {
                return Err(D::Error::custom("`scope: type` needs the object `type`"));
            }
        };
        Ok(RateLimit {
            scope,
            per_second: entry.per_second,
            burst: entry.burst,
        })
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// The bucket refilled up to `now`.
    fn refilled(self, limit: &RateLimit, now: Instant) -> Bucket {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        Bucket {
            tokens: (self.tokens + elapsed * limit.per_second).min(f64::from(limit.burst)),
            last: now,
        }
    }
}

/// The token buckets of a set of rate limits.
#[derive(Debug)]
pub struct RateLimiter {
    limits: Vec<RateLimit>,
    capacity: usize,
    /// `(index of the limit, key)` → bucket.
    buckets: Mutex<HashMap<(usize, String), Bucket>>,
}

impl RateLimiter {
    /// A limiter for `limits` that keeps at most [`DEFAULT_BUCKET_CAPACITY`] buckets.
    pub fn new(limits: Vec<RateLimit>) -> crate::Result<Self> {
        Self::with_capacity(limits, DEFAULT_BUCKET_CAPACITY)
    }

    /// A limiter for `limits` that keeps at most `capacity` buckets (at least 1).
    pub fn with_capacity(limits: Vec<RateLimit>, capacity: usize) -> crate::Result<Self> {
        for (index, limit) in limits.iter().enumerate() {
            limit.validate(&format!("rate_limits[{index}]"))?;
        }
        Ok(RateLimiter {
            limits,
            capacity: capacity.max(1),
            buckets: Mutex::new(HashMap::new()),
        })
    }

    /// Whether any limit is configured.
    pub fn is_empty(&self) -> bool {
        self.limits.is_empty()
    }

    /// The number of buckets held now.
    pub fn buckets(&self) -> usize {
        self.buckets.lock().len()
    }

    /// Admits one call from `client` (its identity, else its address, as the gates key it) to an
    /// object of `type_name`, or says how long to wait before the call would be admitted.
    pub fn try_admit(&self, client: &str, type_name: &str) -> Result<(), Duration> {
        self.try_take(client, Some(type_name))
    }

    /// Takes a token from `client`'s per-client buckets, and from `type_name`'s per-type bucket
    /// when given; all or none.
    fn try_take(&self, client: &str, type_name: Option<&str>) -> Result<(), Duration> {
        if self.limits.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock();
        let mut wait = Duration::ZERO;
        let mut taken = Vec::with_capacity(self.limits.len());
        for (index, limit) in self.limits.iter().enumerate() {
            let key = match &limit.scope {
                RateScope::PerClient => client,
                RateScope::PerType(name) if Some(name.as_str()) == type_name => name.as_str(),
                RateScope::PerType(_) => continue,
            };
            let bucket = buckets
                .get(&(index, key.to_string()))
                .copied()
                .unwrap_or(Bucket {
                    tokens: f64::from(limit.burst),
                    last: now,
                })
                .refilled(limit, now);
            if bucket.tokens < 1.0 {
                let missing = Duration::from_secs_f64((1.0 - bucket.tokens) / limit.per_second);
                wait = wait.max(missing);
            }
            taken.push((index, key, bucket));
        }
        if !wait.is_zero() {
            return Err(wait.max(Duration::from_millis(1)));
        }
        for (index, key, mut bucket) in taken {
            bucket.tokens -= 1.0;
            let key = (index, key.to_string());
            if !buckets.contains_key(&key) && buckets.len() >= self.capacity {
                self.make_room(&mut buckets, now);
            }
            buckets.insert(key, bucket);
        }
        Ok(())
    }

    /// Drops full buckets (no information lost); if none is full, the one idle longest.
    fn make_room(&self, buckets: &mut HashMap<(usize, String), Bucket>, now: Instant) {
        buckets.retain(|(index, _), bucket| {
            let limit = &self.limits[*index];
            bucket.refilled(limit, now).tokens < f64::from(limit.burst)
        });
        if buckets.len() >= self.capacity
            && let Some(oldest) = buckets
                .iter()
                .min_by_key(|(_, bucket)| bucket.last)
                .map(|(key, _)| key.clone())
        {
            buckets.remove(&oldest);
        }
    }

    /// [`try_admit`](Self::try_admit) as a goverse error: `ResourceExhausted` with the code
    /// [`RATE_LIMITED`] and `retry after <n> ms` in the message.
    pub fn admit(&self, client: &str, type_name: &str) -> crate::Result<()> {
        self.try_admit(client, type_name).map_err(|wait| {
            rate_limited(
                &format!("calls from client `{client}` to {type_name}"),
                wait,
            )
        })
    }

    /// Admits `client` opening a push stream (an SSE stream or a gRPC `Register`): it counts
    /// against the per-client limits only, like one call. The error is the same as
    /// [`admit`](Self::admit)'s.
    pub fn admit_stream(&self, client: &str) -> crate::Result<()> {
        self.try_take(client, None).map_err(|wait| {
            rate_limited(&format!("push streams opened by client `{client}`"), wait)
        })
    }
}

/// The error of a request refused by a rate limit: too many `what`.
fn rate_limited(what: &str, wait: Duration) -> Error {
    let millis = wait.as_millis().max(1);
    Error::from_parts(
        ErrorKind::ResourceExhausted,
        Some(RATE_LIMITED.to_string()),
        format!("too many {what}: rate limit exceeded; retry after {millis} ms"),
    )
}

/// How long to wait before retrying, for an error from a rate limit; `None` for any other
/// error. The HTTP gate answers it as `Retry-After` (in whole seconds, rounded up).
pub fn retry_after(error: &Error) -> Option<Duration> {
    if error.kind() != ErrorKind::ResourceExhausted || error.code() != Some(RATE_LIMITED) {
        return None;
    }
    let millis = error
        .message()
        .rsplit_once("retry after ")?
        .1
        .strip_suffix(" ms")?
        .parse()
        .ok()?;
    Some(Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hint_survives_the_message() {
        let error = rate_limited("calls from client `c` to T", Duration::from_millis(120));
        assert!(error.message().ends_with("retry after 120 ms"), "{error}");
        assert_eq!(retry_after(&error), Some(Duration::from_millis(120)));
        assert_eq!(retry_after(&Error::internal("retry after 5 ms")), None);
    }

    #[tokio::test(start_paused = true)]
    async fn opening_a_stream_takes_a_client_token_and_no_type_token() {
        let limiter = RateLimiter::new(vec![
            RateLimit::per_client(1.0, 2),
            RateLimit::per_type("T", 1.0, 1),
        ])
        .unwrap();
        limiter.admit_stream("c").unwrap();
        // The per-type bucket is untouched; the client's has one token left.
        limiter.admit("c", "T").unwrap();
        let error = limiter.admit_stream("c").unwrap_err();
        assert!(error.message().contains("push streams"), "{error}");
        assert_eq!(retry_after(&error), Some(Duration::from_secs(1)));
        limiter.admit_stream("other").unwrap();
    }
}
