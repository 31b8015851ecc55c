//! GROUP BY on string columns, planned as GROUP BY on integer ids.
//!
//! DataFusion 55 groups by several string columns row by row: each row's strings are hashed,
//! then compared with the group's stored strings (`GroupValuesColumn`). The ledger's string
//! columns that people group by (tool, model, service, decision, platform, rule version) hold a
//! handful of values, which Parquet stores as dictionary pages; the reader gives each row a
//! 16-byte view, and rows with the same value in one batch carry the same view. The optimizer
//! rule [`InternGroupKeys`] plans `GROUP BY a, b` (string columns) as
//! `GROUP BY govtrail_group_key(a, b)`: each value gets a 32-bit id from a dictionary shared by
//! the query's partitions, two ids pack into one `UInt64`, and DataFusion's group-by on one
//! integer column takes over. A projection above decodes the ids back into the strings, under
//! the columns' own names, types and nullability.
//!
//! Within a batch, an id is looked up by the row's 16-byte view in a small direct-mapped cache
//! (equal views in one batch mean equal bytes), so a row costs a multiply and a compare, and a
//! value's bytes are hashed about once per batch, not once per row. (Two values that share a
//! cache slot evict each other, and each eviction asks the shared dictionary again: measured, 167
//! dictionary lookups per 8,192-row batch of 15 values. A per-batch table behind the cache cost
//! more than it saved.) NULL is id 0, so NULL groups stay
//! apart from every string. The ids depend on the order the partitions meet the values, but
//! only the strings leave the aggregation, so results are the built-in's.

use std::hash::{Hash, Hasher};
use std::sync::{Arc, RwLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, GenericStringArray, GenericStringBuilder, OffsetSizeTrait,
    StringViewArray, StringViewBuilder, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, DataFusionError, HashMap, Result, TableReference, exec_err};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    Aggregate, ColumnarValue, Expr, ExprSchemable as _, LogicalPlan, Projection, ReturnFieldArgs,
    ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};

/// Shards of a dictionary, each behind its own lock, so partitions meeting new values rarely
/// wait for each other.
const SHARDS: usize = 16;
/// Entries of the per-batch view cache (a power of two).
const CACHE: usize = 256;

/// One column's values and their ids, for one aggregation of one query. An id is
/// `index × SHARDS + shard + 1`; 0 is NULL.
#[derive(Debug)]
struct Dictionary {
    shards: Vec<RwLock<Shard>>,
}

#[derive(Debug, Default)]
struct Shard {
    ids: HashMap<Box<[u8]>, u32>,
    values: Vec<Box<[u8]>>,
}

/// Which shard holds `value`: a multiplicative mix of its length and its first and last eight
/// bytes (enough to spread ids such as `session-000123`; the shard's map hashes it properly).
fn shard_of(value: &[u8]) -> usize {
    let word = |b: &[u8]| {
        let mut w = [0u8; 8];
        w[..b.len()].copy_from_slice(b);
        u64::from_le_bytes(w)
    };
    let n = value.len();
    let (head, tail) = (
        word(&value[..n.min(8)]),
        word(&value[n.saturating_sub(8)..]),
    );
    let mixed = (head ^ tail.rotate_left(29) ^ n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (mixed >> 60) as usize % SHARDS
}

impl Dictionary {
    fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
        }
    }

    /// The id of `value`, given one if it has none yet. Values already known (all but the
    /// first sight of each) are found under a read lock, so partitions do not wait for each
    /// other.
    fn intern(&self, value: &[u8]) -> Result<u32> {
        let shard = shard_of(value);
        if let Some(&id) = self.shards[shard].read().map_err(poisoned)?.ids.get(value) {
            return Ok(id);
        }
        let mut s = self.shards[shard].write().map_err(poisoned)?;
        if let Some(&id) = s.ids.get(value) {
            return Ok(id);
        }
        let index = s.values.len();
        let id = u32::try_from(index * SHARDS + shard + 1)
            .ok()
            .filter(|id| *id < u32::MAX)
            .ok_or_else(|| {
                DataFusionError::ResourcesExhausted(
                    "govtrail_group_key: more than 4 billion distinct values in one GROUP BY column"
                        .into(),
                )
            })?;
        s.values.push(value.into());
        s.ids.insert(value.into(), id);
        Ok(id)
    }

    /// The value with id `id` (not 0), as `f` sees it.
    fn with_value<T>(&self, id: u32, f: impl FnOnce(&[u8]) -> T) -> Result<T> {
        let i = id as usize - 1;
        let s = self.shards[i % SHARDS].read().map_err(poisoned)?;
        match s.values.get(i / SHARDS) {
            Some(v) => Ok(f(v)),
            None => exec_err!("govtrail_group_key: id {id} was never given out"),
        }
    }
}

fn poisoned<T>(_: T) -> DataFusionError {
    DataFusionError::Execution(
        "govtrail_group_key: a partition panicked holding the dictionary".into(),
    )
}

/// The ids of a string array's rows (0 for NULL).
fn ids(dict: &Dictionary, array: &ArrayRef) -> Result<Vec<u32>> {
    match array.data_type() {
        DataType::Utf8View => view_ids(dict, array.as_string_view()),
        DataType::Utf8 => generic_ids(dict, array.as_string::<i32>()),
        DataType::LargeUtf8 => generic_ids(dict, array.as_string::<i64>()),
        DataType::Dictionary(_, _) => dictionary_ids(dict, array),
        other => exec_err!("govtrail_group_key: a {other} column reached a string key"),
    }
}

/// Ids of a dictionary array: its values' ids, then one lookup per row by key.
fn dictionary_ids(dict: &Dictionary, array: &ArrayRef) -> Result<Vec<u32>> {
    let Some(any) = array.as_any_dictionary_opt() else {
        return exec_err!("govtrail_group_key: not a dictionary array");
    };
    let values = ids(dict, any.values())?;
    let keys = any.normalized_keys();
    let mut out = Vec::with_capacity(array.len());
    for (i, &k) in keys.iter().enumerate() {
        out.push(if array.is_null(i) {
            0
        } else {
            values.get(k).copied().unwrap_or(0)
        });
    }
    Ok(out)
}

/// Ids by view: a direct-mapped cache from a row's view to its id, valid for this batch (a view
/// longer than 12 bytes names a buffer and an offset of this array).
fn view_ids(dict: &Dictionary, array: &StringViewArray) -> Result<Vec<u32>> {
    // No view has length u32::MAX (a string is shorter than 2 GiB), so this marks "empty".
    let mut cache = [(u128::MAX, 0u32); CACHE];
    let mut out = vec![0u32; array.len()];
    let mut lookup = |i: usize, view: u128| -> Result<u32> {
        let folded = (view as u64) ^ ((view >> 64) as u64);
        let slot =
            (folded.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - CACHE.trailing_zeros())) as usize;
        let (cached, id) = cache[slot];
        if cached == view {
            return Ok(id);
        }
        let id = dict.intern(array.value(i).as_bytes())?;
        cache[slot] = (view, id);
        Ok(id)
    };
    let views = array.views().iter().zip(out.iter_mut()).enumerate();
    match array.logical_nulls() {
        None => {
            for (i, (&view, id)) in views {
                *id = lookup(i, view)?;
            }
        }
        Some(nulls) => {
            for (i, (&view, id)) in views {
                if nulls.is_valid(i) {
                    *id = lookup(i, view)?;
                }
            }
        }
    }
    Ok(out)
}

/// Ids by value, hashed once per distinct value of the batch.
fn generic_ids<O: OffsetSizeTrait>(
    dict: &Dictionary,
    array: &GenericStringArray<O>,
) -> Result<Vec<u32>> {
    let mut seen: HashMap<&str, u32> = HashMap::default();
    let mut out = Vec::with_capacity(array.len());
    for v in array.iter() {
        out.push(match v {
            None => 0,
            Some(v) => match seen.get(v) {
                Some(&id) => id,
                None => {
                    let id = dict.intern(v.as_bytes())?;
                    seen.insert(v, id);
                    id
                }
            },
        });
    }
    Ok(out)
}

/// `govtrail_group_key(a)` or `govtrail_group_key(a, b)`: the ids of one or two string
/// columns, packed `a << 32 | b`. Planned only by [`InternGroupKeys`].
#[derive(Debug)]
struct GroupKey {
    dicts: Arc<[Dictionary]>,
    signature: Signature,
}

impl PartialEq for GroupKey {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.dicts, &other.dicts)
    }
}
impl Eq for GroupKey {}
impl Hash for GroupKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.dicts).cast::<u8>().hash(state);
    }
}

impl ScalarUDFImpl for GroupKey {
    fn name(&self) -> &str {
        "govtrail_group_key"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::UInt64)
    }
    fn return_field_from_args(&self, _args: ReturnFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(self.name(), DataType::UInt64, false)))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if args.args.len() != self.dicts.len() {
            return exec_err!(
                "govtrail_group_key: {} columns for {} dictionaries",
                args.args.len(),
                self.dicts.len()
            );
        }
        let rows = args.number_rows;
        let mut packed = vec![0u64; rows];
        for (arg, dict) in args.args.iter().zip(self.dicts.iter()) {
            let array = arg.to_array(rows)?;
            for (p, id) in packed.iter_mut().zip(ids(dict, &array)?) {
                *p = (*p << 32) | u64::from(id);
            }
        }
        Ok(ColumnarValue::Array(Arc::new(UInt64Array::from(packed))))
    }
}

/// `govtrail_key_value(key)`: one column's strings back from packed keys (`shift` is where its id
/// sits), as the column's own type and nullability.
#[derive(Debug)]
struct KeyValue {
    dicts: Arc<[Dictionary]>,
    which: usize,
    shift: u32,
    field: FieldRef,
    signature: Signature,
}

impl PartialEq for KeyValue {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.dicts, &other.dicts) && self.which == other.which
    }
}
impl Eq for KeyValue {}
impl Hash for KeyValue {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.dicts).cast::<u8>().hash(state);
        self.which.hash(state);
    }
}

impl KeyValue {
    fn decode(&self, keys: &UInt64Array) -> Result<ArrayRef> {
        let dict = &self.dicts[self.which];
        let id_of = |k: u64| (k >> self.shift) as u32;
        fn text(v: &[u8]) -> &str {
            // Interned from string arrays, so UTF-8; an invalid one cannot have been stored.
            std::str::from_utf8(v).unwrap_or_default()
        }
        Ok(match self.field.data_type() {
            DataType::Utf8View => {
                let mut b = StringViewBuilder::with_capacity(keys.len());
                for k in keys.iter() {
                    match k.map(id_of) {
                        None | Some(0) => b.append_null(),
                        Some(id) => dict.with_value(id, |v| b.append_value(text(v)))?,
                    }
                }
                Arc::new(b.finish())
            }
            DataType::Utf8 => Arc::new(self.generic::<i32>(keys, id_of)?),
            DataType::LargeUtf8 => Arc::new(self.generic::<i64>(keys, id_of)?),
            other => {
                let strings: ArrayRef = Arc::new(self.generic::<i32>(keys, id_of)?);
                datafusion::arrow::compute::cast(&strings, other)?
            }
        })
    }

    fn generic<O: OffsetSizeTrait>(
        &self,
        keys: &UInt64Array,
        id_of: impl Fn(u64) -> u32,
    ) -> Result<GenericStringArray<O>> {
        let dict = &self.dicts[self.which];
        let mut b = GenericStringBuilder::<O>::new();
        for k in keys.iter() {
            match k.map(&id_of) {
                None | Some(0) => b.append_null(),
                Some(id) => dict.with_value(id, |v| {
                    b.append_value(std::str::from_utf8(v).unwrap_or_default());
                })?,
            }
        }
        Ok(b.finish())
    }
}

impl ScalarUDFImpl for KeyValue {
    fn name(&self) -> &str {
        "govtrail_key_value"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.field.data_type().clone())
    }
    fn return_field_from_args(&self, _args: ReturnFieldArgs) -> Result<FieldRef> {
        Ok(Arc::clone(&self.field))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return exec_err!("govtrail_key_value takes one key");
        };
        let keys = arg.to_array(args.number_rows)?;
        let Some(keys) = keys.as_any().downcast_ref::<UInt64Array>() else {
            return exec_err!("govtrail_key_value: keys must be UInt64");
        };
        Ok(ColumnarValue::Array(self.decode(keys)?))
    }
}

/// An optimizer rule: an aggregation grouped by plain string columns (Utf8View, Utf8,
/// LargeUtf8) is grouped by packed ids instead, two columns to a `UInt64` key
/// (`govtrail_group_key`), with a projection above that decodes each key back into its columns
/// (`govtrail_key_value`). Grouping sets, and keys that are expressions rather than columns,
/// are left alone. The rewritten plan must give the same columns (names, qualifiers, types,
/// nullability) as the original, or the original is kept.
#[derive(Debug, Default)]
pub(crate) struct InternGroupKeys;

impl OptimizerRule for InternGroupKeys {
    fn name(&self) -> &str {
        "govtrail_intern_group_keys"
    }
    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }
    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        crate::rewrite::aggregate(plan, intern)
    }
}

fn is_string(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Utf8View | DataType::Utf8 | DataType::LargeUtf8
    )
}

fn intern(agg: &Aggregate) -> Result<Option<Projection>> {
    let input = agg.input.schema();
    if agg
        .group_expr
        .iter()
        .any(|e| matches!(e, Expr::GroupingSet(_)))
    {
        return Ok(None);
    }
    // Which group expressions are string columns.
    let strings: Vec<bool> = agg
        .group_expr
        .iter()
        .map(|e| matches!(e, Expr::Column(_)) && e.get_type(input).is_ok_and(|t| is_string(&t)))
        .collect();
    let n = strings.iter().filter(|s| **s).count();
    if n == 0 {
        return Ok(None);
    }
    let alias = |k: usize| format!("__govtrail_group_key_{k}");
    let mut group_expr = Vec::new();
    // Per original group column: kept as it is, or (key, position in the key).
    let mut place: Vec<Option<(usize, usize)>> = Vec::new();
    let mut keys: Vec<Vec<Expr>> = Vec::new();
    for (e, &s) in agg.group_expr.iter().zip(&strings) {
        if s {
            if keys.last().is_none_or(|k| k.len() == 2) {
                keys.push(Vec::new());
            }
            let k = keys.len() - 1;
            place.push(Some((k, keys[k].len())));
            keys[k].push(e.clone());
        } else {
            place.push(None);
            group_expr.push(e.clone());
        }
    }
    let mut dicts: Vec<Arc<[Dictionary]>> = Vec::new();
    for (k, columns) in keys.iter().enumerate() {
        let d: Arc<[Dictionary]> = columns.iter().map(|_| Dictionary::new()).collect();
        let udf = Arc::new(ScalarUDF::new_from_impl(GroupKey {
            dicts: Arc::clone(&d),
            signature: Signature::any(columns.len(), Volatility::Volatile),
        }));
        group_expr.push(
            Expr::ScalarFunction(ScalarFunction::new_udf(udf, columns.clone())).alias(alias(k)),
        );
        dicts.push(d);
    }
    let grouped = Aggregate::try_new(Arc::clone(&agg.input), group_expr, agg.aggr_expr.clone())?;
    let mut exprs = Vec::new();
    let column =
        |q: Option<&TableReference>, name: &str| Expr::Column(Column::new(q.cloned(), name));
    for (i, (qualifier, field)) in agg.schema.iter().enumerate() {
        exprs.push(match place.get(i).copied().flatten() {
            Some((k, which)) => {
                let width = keys[k].len();
                let udf = Arc::new(ScalarUDF::new_from_impl(KeyValue {
                    dicts: Arc::clone(&dicts[k]),
                    which,
                    shift: 32 * (width - 1 - which) as u32,
                    field: Arc::clone(field),
                    signature: Signature::exact(vec![DataType::UInt64], Volatility::Volatile),
                }));
                Expr::ScalarFunction(ScalarFunction::new_udf(udf, vec![column(None, &alias(k))]))
                    .alias_qualified(qualifier.cloned(), field.name())
            }
            None => column(qualifier, field.name()),
        });
    }
    let projection = Projection::try_new(exprs, Arc::new(LogicalPlan::Aggregate(grouped)))?;
    Ok(Some(projection))
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Int64Array, LargeStringArray, RecordBatch, StringArray};
    use datafusion::arrow::datatypes::Schema;
    use datafusion::datasource::MemTable;
    use datafusion::prelude::{SessionConfig, SessionContext};

    use super::*;
    use crate::rewrite::testing::check;

    /// Rows `(tool, model, decision, session, n, big)`: short and long strings (over 12 bytes,
    /// so their views point into buffers), NULLs in each string column, a column with thousands
    /// of distinct values, an integer key, and a LargeUtf8 column.
    fn table(parts: usize, rows: usize) -> MemTable {
        let schema = Arc::new(Schema::new(vec![
            Field::new("tool", DataType::Utf8View, true),
            Field::new("model", DataType::Utf8View, true),
            Field::new("decision", DataType::Utf8, false),
            Field::new("session", DataType::Utf8View, true),
            Field::new("n", DataType::Int64, false),
            Field::new("big", DataType::LargeUtf8, true),
        ]));
        let tools = [
            "Bash",
            "Edit",
            "Write",
            "mcp__github__create_pull_request",
            "",
        ];
        let models = [
            "claude-sonnet-4-5-20250929",
            "claude-opus-4-1-20250805",
            "gpt-5",
            "claude-sonnet-4-5-20250929x",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut out = Vec::new();
        for p in 0..parts {
            let mut cols: (Vec<_>, Vec<_>, Vec<_>, Vec<_>, Vec<_>, Vec<_>) = Default::default();
            for r in 0..rows {
                let x = next();
                cols.0
                    .push((x % 13 != 0).then(|| tools[(x >> 8) as usize % tools.len()]));
                cols.1
                    .push((x % 17 != 0).then(|| models[(x >> 16) as usize % models.len()]));
                cols.2
                    .push(["allow", "deny", "ask"][(x >> 24) as usize % 3].to_string());
                cols.3.push(
                    (x % 29 != 0).then(|| format!("session-{:08}", (p * rows + r) / 7 % 3000)),
                );
                cols.4.push((x >> 32) as i64 % 4);
                cols.5
                    .push((x % 5 != 0).then(|| format!("big-{}", (x >> 40) % 9)));
            }
            let batch = RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(StringViewArray::from(cols.0)),
                    Arc::new(StringViewArray::from(cols.1)),
                    Arc::new(StringArray::from(cols.2)),
                    Arc::new(StringViewArray::from(cols.3)),
                    Arc::new(Int64Array::from(cols.4)),
                    Arc::new(LargeStringArray::from(cols.5)),
                ],
            )
            .unwrap();
            out.push(vec![batch]);
        }
        MemTable::try_new(schema, out).unwrap()
    }

    fn context(rule: bool) -> SessionContext {
        let config = SessionConfig::new()
            .with_target_partitions(4)
            .with_batch_size(777);
        let ctx = SessionContext::new_with_config(config);
        ctx.register_table("t", Arc::new(table(4, 5000))).unwrap();
        if rule {
            ctx.add_optimizer_rule(Arc::new(InternGroupKeys));
        }
        ctx
    }

    /// Every query gives the built-in's answer (rows sorted, so the text compares), with the
    /// same column names, types and nullability; the ones that group by string columns are
    /// planned with packed keys.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn same_results_as_the_builtin_group_by() {
        let (with, without) = (context(true), context(false));
        let rewritten = [
            "SELECT tool, model, count(*) AS n, avg(CASE WHEN decision = 'deny' THEN 1.0 ELSE 0.0 END) AS r FROM t GROUP BY tool, model ORDER BY tool, model",
            "SELECT tool, count(*) FROM t GROUP BY tool ORDER BY tool NULLS FIRST",
            "SELECT t.model, t.tool, t.decision, max(n) FROM t GROUP BY t.model, t.tool, t.decision ORDER BY 1, 2, 3",
            "SELECT n, tool, sum(n) AS s, model FROM t GROUP BY n, model, tool ORDER BY n, tool, model",
            "SELECT session, count(*) AS c FROM t GROUP BY session ORDER BY c DESC, session LIMIT 20",
            "SELECT session, tool, count(*) AS c FROM t GROUP BY session, tool ORDER BY session, tool",
            "SELECT big, decision, count(*) FROM t GROUP BY big, decision ORDER BY 1, 2",
            "SELECT DISTINCT model, decision FROM t ORDER BY model, decision",
            "SELECT tool, count(*) FROM t GROUP BY tool HAVING tool LIKE 'B%' OR tool IS NULL ORDER BY tool",
            "SELECT tool, count(DISTINCT model) AS m FROM t GROUP BY tool ORDER BY tool",
            "SELECT upper(tool) AS u, c FROM (SELECT tool, count(*) AS c FROM t WHERE n > 1 GROUP BY tool) ORDER BY u",
            "SELECT tool, model, count(*) FROM t WHERE n > 100 GROUP BY tool, model",
            "SELECT a.tool, count(*) FROM t a JOIN (SELECT DISTINCT tool FROM t WHERE decision = 'ask') b ON a.tool = b.tool GROUP BY a.tool ORDER BY 1",
        ];
        for sql in rewritten {
            check(&with, &without, sql, "govtrail_group_key", true).await;
        }
        let untouched = [
            "SELECT tool, model, count(*) FROM t GROUP BY ROLLUP (tool, model) ORDER BY 1, 2",
            "SELECT lower(tool), count(*) FROM t GROUP BY lower(tool) ORDER BY 1",
            "SELECT n, count(*) FROM t GROUP BY n ORDER BY n",
        ];
        for sql in untouched {
            check(&with, &without, sql, "govtrail_group_key", false).await;
        }
    }

    /// Ids: NULL is 0, equal strings share one id whatever array they come from, and every id
    /// decodes to its string.
    #[test]
    fn ids_are_shared_and_decode() {
        let dict = Dictionary::new();
        let long = "a string longer than twelve bytes";
        let views: ArrayRef = Arc::new(StringViewArray::from(vec![
            Some("x"),
            None,
            Some(long),
            Some("x"),
            Some(long),
            Some(""),
        ]));
        let plain: ArrayRef = Arc::new(StringArray::from(vec![Some(long), None, Some("x")]));
        let a = ids(&dict, &views).unwrap();
        let b = ids(&dict, &plain).unwrap();
        assert_eq!(a[1], 0);
        assert_eq!(a[0], a[3]);
        assert_eq!(a[2], a[4]);
        assert_ne!(a[0], a[2]);
        assert_ne!(a[5], 0);
        assert_eq!(b, vec![a[2], 0, a[0]]);
        // A dictionary array: its values' ids, looked up by key; a NULL key is NULL.
        let keyed: ArrayRef =
            Arc::new(
                vec![Some("x"), None, Some(long), Some("x"), Some("new")]
                    .into_iter()
                    .collect::<datafusion::arrow::array::DictionaryArray<
                        datafusion::arrow::datatypes::Int32Type,
                    >>(),
            );
        let c = ids(&dict, &keyed).unwrap();
        assert_eq!(&c[..4], &[a[0], 0, a[2], a[0]]);
        assert!(c[4] != 0 && !a.contains(&c[4]));
        for (id, want) in [(a[0], "x"), (a[2], long), (a[5], "")] {
            let got = dict.with_value(id, |v| v.to_vec()).unwrap();
            assert_eq!(got, want.as_bytes());
        }
        assert!(dict.with_value(9999, |_| ()).is_err());
    }
}
