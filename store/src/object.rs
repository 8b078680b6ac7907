//! Reading one repository object and decoding it, with an error that names the object.

use repo_format::FormatError;

use crate::backend::Backend;
use crate::{Result, StoreError};

/// The object at `key`, fetched from `backend` and decoded by `decode`; a decoding error names
/// `key`. A store that fails to send it is a [`StoreError::Backend`] error, which callers that
/// skip damaged objects must not skip.
pub fn get_decoded<T>(backend: &dyn Backend, key: &str, decode: impl FnOnce(&[u8]) -> std::result::Result<T, FormatError>) -> Result<T> {
    let bytes = backend.get(key)?;
    decode(&bytes).map_err(|e| StoreError::format(key, e))
}
