//! Object identity: the key `(type name, id)` every activation, route and stored row is found by.

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};

/// The longest object id accepted, in bytes.
pub const MAX_ID_LEN: usize = 1024;

/// Checks an object id: non-empty and at most [`MAX_ID_LEN`] bytes.
pub fn validate_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid_argument("object id must not be empty"));
    }
    if id.len() > MAX_ID_LEN {
        return Err(Error::invalid_argument(format!(
            "object id is {} bytes long; the limit is {MAX_ID_LEN} bytes",
            id.len()
        )));
    }
    Ok(())
}

/// The identity of one object: its registered type name and its id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    type_name: &'static str,
    id: Arc<str>,
}

impl ObjectKey {
    /// A key for `id` of the object type registered as `type_name`.
    pub fn new(type_name: &'static str, id: Arc<str>) -> Self {
        ObjectKey { type_name, id }
    }

    /// The registered (wire) type name.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The object id.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn id_arc(&self) -> &Arc<str> {
        &self.id
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.type_name, self.id)
    }
}

impl fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_for_emptiness_and_length() {
        assert!(validate_id("a").is_ok());
        assert!(validate_id(&"x".repeat(MAX_ID_LEN)).is_ok());
        let empty = validate_id("").unwrap_err();
        assert!(empty.message().contains("empty"));
        let long = validate_id(&"x".repeat(MAX_ID_LEN + 1)).unwrap_err();
        assert!(long.message().contains("1025 bytes"));
    }
}
