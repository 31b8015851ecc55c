//! Errors of the schemas crate: what in a record is wrong, and where (a JSON pointer).

/// What is wrong with a decision record.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bytes are not valid JSON, or a field has the wrong type or value.
    #[error("invalid record at {}: {message}", where_(.pointer))]
    Invalid {
        /// JSON pointer of the offending value ("" is the whole record).
        pointer: String,
        /// What the parser said.
        message: String,
    },
    /// The record declares a version this build cannot read.
    #[error("unsupported record version {found} at /v (this build reads version {supported})")]
    UnsupportedVersion {
        /// The version the record declares.
        found: u64,
        /// The version this build reads.
        supported: u64,
    },
    /// An integer outside the I-JSON range, which RFC 8785 cannot represent exactly.
    #[error(
        "integer {value} at {pointer} is outside ±(2^53-1), which canonical JSON (RFC 8785) cannot hold exactly"
    )]
    UnsafeInteger {
        /// JSON pointer of the number.
        pointer: String,
        /// The number as written.
        value: String,
    },
    /// The canonical encoder refused the record (it cannot for a parsed record; kept for safety).
    #[error("canonical encoding failed: {0}")]
    Encode(String),
}

/// `Result` with [`Error`] as its default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn where_(pointer: &str) -> &str {
    if pointer.is_empty() {
        "the top level"
    } else {
        pointer
    }
}
