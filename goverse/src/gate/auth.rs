//! Client authentication at the gate: the [`Authenticator`] trait and the built-in bearer
//! tokens and API keys.
//!
//! A gate asks its authenticator about every request — every HTTP call, every gRPC call, and
//! once for each gRPC `Register` stream or SSE session, whose client id is then bound to the
//! identity proven (a client can never act under another client's id). The authenticator sees
//! the request's headers: HTTP headers, or gRPC metadata (lowercase keys). GoVerse's HTTP
//! clients send their credentials as the `X-Goverse-Auth` header, a JSON object of strings;
//! the gate passes it through untouched, and [`goverse_auth`] reads it for custom
//! authenticators. The built-ins look for their header first among the headers and then among
//! the fields of `X-Goverse-Auth` (`{"authorization": "Bearer …"}`, `{"x-api-key": "…"}`).
//!
//! Secrets are kept only as SHA-256 digests and looked up by digest, so neither a timing
//! difference nor a memory dump gives a token away; errors never repeat what was presented.

use std::collections::HashMap;
use std::fmt;

use http::HeaderMap;

use crate::error::{Error, ErrorKind, Result};

/// The header GoVerse's HTTP clients send their credentials in: a JSON object of strings.
pub const GOVERSE_AUTH_HEADER: &str = "x-goverse-auth";

/// Decides who a request comes from.
///
/// Return `Ok(Some(identity))` to accept an authenticated client, `Ok(None)` when the request
/// carries none of the credentials this authenticator knows (the client is anonymous: refused
/// if the gate requires authentication), and an [`ErrorKind::Unauthenticated`] error for
/// credentials that are present but wrong. Called on every request: keep it fast.
pub trait Authenticator: Send + Sync + fmt::Debug {
    /// The identity `headers` prove.
    fn authenticate(&self, headers: &HeaderMap) -> Result<Option<String>>;
}

/// An `Unauthenticated` error that says what was wrong without repeating the credential.
pub fn unauthenticated(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Unauthenticated, message)
}

/// The fields of the `X-Goverse-Auth` header (a JSON object whose values are strings), with
/// lowercase keys; `None` without the header; `Unauthenticated` if it is not such an object.
pub fn goverse_auth(headers: &HeaderMap) -> Result<Option<HashMap<String, String>>> {
    let Some(value) = headers.get(GOVERSE_AUTH_HEADER) else {
        return Ok(None);
    };
    let malformed =
        || unauthenticated("the X-Goverse-Auth header must be a JSON object of strings");
    let text = value.to_str().map_err(|_| malformed())?;
    let object: HashMap<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|_| malformed())?;
    object
        .into_iter()
        .map(|(key, value)| match value {
            serde_json::Value::String(value) => Ok((key.to_ascii_lowercase(), value)),
            _ => Err(malformed()),
        })
        .collect::<Result<_>>()
        .map(Some)
}

/// The value of header `name` (lowercase), or of the same field of `X-Goverse-Auth`.
fn credential(headers: &HeaderMap, name: &str) -> Result<Option<String>> {
    if let Some(value) = headers.get(name) {
        return value
            .to_str()
            .map(|v| Some(v.to_string()))
            .map_err(|_| unauthenticated(format!("the {name} header is not valid text")));
    }
    Ok(goverse_auth(headers)?.and_then(|mut fields| fields.remove(name)))
}

/// Secrets kept as SHA-256 digests, each with the identity it proves.
#[derive(Default)]
struct Digests(HashMap<[u8; 32], String>);

impl Digests {
    fn digest(secret: &str) -> [u8; 32] {
        let digest = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        out
    }

    fn from_pairs<S: AsRef<str>, I: Into<String>>(pairs: impl IntoIterator<Item = (S, I)>) -> Self {
        Digests(
            pairs
                .into_iter()
                .map(|(secret, identity)| (Self::digest(secret.as_ref()), identity.into()))
                .collect(),
        )
    }

    fn identity(&self, secret: &str) -> Option<&String> {
        self.0.get(&Self::digest(secret))
    }
}

impl fmt::Debug for Digests {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} secrets>", self.0.len())
    }
}

/// `Authorization: Bearer <token>`, each token mapped to an identity.
#[derive(Debug)]
pub struct BearerTokens {
    tokens: Digests,
}

impl BearerTokens {
    /// Accepts each `(token, identity)` pair.
    pub fn new<S: AsRef<str>, I: Into<String>>(tokens: impl IntoIterator<Item = (S, I)>) -> Self {
        BearerTokens {
            tokens: Digests::from_pairs(tokens),
        }
    }
}

impl Authenticator for BearerTokens {
    fn authenticate(&self, headers: &HeaderMap) -> Result<Option<String>> {
        let Some(value) = credential(headers, "authorization")? else {
            return Ok(None);
        };
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => return Ok(None),
        };
        self.tokens
            .identity(token)
            .cloned()
            .map(Some)
            .ok_or_else(|| unauthenticated("the bearer token is not valid"))
    }
}

/// `X-Api-Key: <key>`, each key mapped to an identity.
#[derive(Debug)]
pub struct ApiKeys {
    keys: Digests,
}

impl ApiKeys {
    /// Accepts each `(key, identity)` pair.
    pub fn new<S: AsRef<str>, I: Into<String>>(keys: impl IntoIterator<Item = (S, I)>) -> Self {
        ApiKeys {
            keys: Digests::from_pairs(keys),
        }
    }
}

impl Authenticator for ApiKeys {
    fn authenticate(&self, headers: &HeaderMap) -> Result<Option<String>> {
        let Some(key) = credential(headers, "x-api-key")? else {
            return Ok(None);
        };
        self.keys
            .identity(key.trim())
            .cloned()
            .map(Some)
            .ok_or_else(|| unauthenticated("the API key is not valid"))
    }
}

/// Several authenticators: the first that finds its credentials decides.
#[derive(Debug)]
pub struct FirstOf(pub Vec<std::sync::Arc<dyn Authenticator>>);

impl Authenticator for FirstOf {
    fn authenticate(&self, headers: &HeaderMap) -> Result<Option<String>> {
        for authenticator in &self.0 {
            if let Some(identity) = authenticator.authenticate(headers)? {
                return Ok(Some(identity));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn bearer_tokens_and_api_keys() {
        let bearer = BearerTokens::new([("t0ken", "alice")]);
        let ok = headers(&[("authorization", "Bearer t0ken")]);
        assert_eq!(bearer.authenticate(&ok).unwrap().as_deref(), Some("alice"));
        assert_eq!(bearer.authenticate(&headers(&[])).unwrap(), None);
        let bad = bearer
            .authenticate(&headers(&[("authorization", "Bearer wrong-secret")]))
            .unwrap_err();
        assert_eq!(bad.kind(), ErrorKind::Unauthenticated);
        assert!(!bad.to_string().contains("wrong-secret"), "{bad}");
        let keys = ApiKeys::new([("k1", "svc")]);
        let via_json = headers(&[("x-goverse-auth", r#"{"X-Api-Key": "k1"}"#)]);
        assert_eq!(
            keys.authenticate(&via_json).unwrap().as_deref(),
            Some("svc")
        );
        let both = FirstOf(vec![std::sync::Arc::new(bearer), std::sync::Arc::new(keys)]);
        assert_eq!(
            both.authenticate(&headers(&[("x-api-key", "k1")]))
                .unwrap()
                .as_deref(),
            Some("svc")
        );
        assert!(
            goverse_auth(&headers(&[("x-goverse-auth", "[1]")])).is_err(),
            "not an object"
        );
    }
}
