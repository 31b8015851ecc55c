//! The Arrow schema of a ledger segment (a Parquet file).
//!
//! `record`, `record_hash` and `chain` are the truth; every other column is a typed copy derived
//! from `record` for queries, which the verifier re-derives and compares.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// Column names of a segment, in file order.
pub const COLUMNS: [&str; 18] = [
    "idx",
    "ts",
    "decision_id",
    "decision",
    "decision_native",
    "platform",
    "engine",
    "service",
    "session_id",
    "tool_name",
    "rule_ids",
    "rule_set",
    "overhead_us",
    "outcome",
    "model",
    "record",
    "record_hash",
    "chain",
];

/// The Arrow schema every segment of format version 1 has.
pub fn segment_schema() -> SchemaRef {
    let utf8 = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    Arc::new(Schema::new(vec![
        Field::new("idx", DataType::UInt64, false),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        utf8("decision_id", false),
        utf8("decision", false),
        utf8("decision_native", true),
        utf8("platform", true),
        utf8("engine", true),
        utf8("service", true),
        utf8("session_id", true),
        utf8("tool_name", true),
        Field::new(
            "rule_ids",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, false))),
            false,
        ),
        utf8("rule_set", true),
        Field::new("overhead_us", DataType::Int64, true),
        utf8("outcome", true),
        utf8("model", true),
        Field::new("record", DataType::Binary, false),
        Field::new("record_hash", DataType::FixedSizeBinary(32), false),
        Field::new("chain", DataType::FixedSizeBinary(32), false),
    ]))
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_match_schema() {
        let schema = super::segment_schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, super::COLUMNS);
    }
}
