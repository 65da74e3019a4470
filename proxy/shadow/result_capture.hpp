#pragma once

// Shadow reads: what one store replied to one unit of client work, reduced to what the comparison
// needs. A ResultCapture is fed that store's backend messages in order and keeps, per result set,
// the column descriptions, the command tag or error, digests of the rows, and the rows themselves
// while they fit a byte budget. No I/O: the data path hands it payloads as they pass.
//
// Values are normalised (CompareRules) before they are hashed, so two captures built with the same
// rules have equal digests exactly when their normalised rows are equal (up to 64-bit hash
// collisions, and the float grid caveat at value_kind below).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pgdual::proxy::shadow {

struct CompareRules {
  // Result column names left out of hashes and comparisons.
  std::vector<std::string> ignore_columns;
  // 0 = exact. Text-format float4/float8/numeric values a and b are equal when
  // |a - b| <= float_tolerance * max(1, |a|, |b|).
  double float_tolerance = 0;
  // 0..6: fractional-second digits kept of text-format time/timetz/timestamp/timestamptz values.
  int timestamp_precision = 6;
  // Per capture: rows are kept (for field-level reports) only while they fit.
  std::size_t max_buffered_bytes = 1 << 20;
  // At most this many differing rows are reported in detail.
  std::size_t max_detail_rows = 10;
};

// Type oids (pg_type.dat) whose text form the rules normalise.
namespace type_oid {
constexpr std::int32_t kFloat4 = 700;
constexpr std::int32_t kFloat8 = 701;
constexpr std::int32_t kNumeric = 1700;
constexpr std::int32_t kTime = 1083;
constexpr std::int32_t kTimeTz = 1266;
constexpr std::int32_t kTimestamp = 1114;
constexpr std::int32_t kTimestampTz = 1184;
}  // namespace type_oid

struct ColumnInfo {
  std::string name;
  std::int32_t table_oid = 0;
  std::int16_t attnum = 0;
  std::int32_t type_oid = 0;
  std::int16_t format = 0;  // 0 text, 1 binary
};

// How one column's values are normalised before hashing and comparing.
//  - float_text: parsed as a double; compared with the tolerance. For hashing a value is rounded
//    to the nearest multiple of a step: tol * 2^(e-1) for |x| = m * 2^e >= 2 (m in [0.5, 1)),
//    tol below 2. Values in one cell are always within tolerance, but two values within tolerance
//    may straddle a cell edge (half a step off a multiple) or a power of two >= 2: their digests,
//    and whole-row matching of kept rows, then see a difference that the field comparison would
//    not. Unparsable or non-finite text (NaN, Infinity) is compared as raw bytes.
//  - time_text: fractional seconds truncated to timestamp_precision digits, trailing zeros dropped.
enum class ValueKind : std::uint8_t { ignored, raw, float_text, time_text };
ValueKind value_kind(const ColumnInfo& column, const CompareRules& rules);

using FieldValue = std::optional<std::string>;  // std::nullopt = SQL NULL

bool values_equal(ValueKind kind, const FieldValue& a, const FieldValue& b,
                  const CompareRules& rules);
// Hash of the normalised values of `columns` of a row (the key of key-column matching).
std::uint64_t hash_fields(const std::vector<ValueKind>& kinds, const std::vector<FieldValue>& row,
                          const std::vector<std::size_t>& columns, const CompareRules& rules);

struct KeptRow {
  std::uint64_t hash = 0;  // the row's normalised hash (ignored columns left out)
  std::vector<FieldValue> values;
};

enum class SetEnd : std::uint8_t { open, complete, empty_query, suspended, error };

struct ResultSet {
  std::vector<ColumnInfo> columns;
  std::vector<ValueKind> kinds;  // one per column, from the capture's rules
  // false: the columns were inherited from an earlier RowDescription of the unit, or are unknown
  // ("column 1", ... with type oid 0) because nothing was described.
  bool described = false;
  SetEnd end = SetEnd::open;
  std::string command_tag;  // CommandComplete only
  std::string sqlstate;     // ErrorResponse only
  std::uint64_t row_count = 0;
  std::uint64_t ordered_digest = 0;  // depends on row order
  std::uint64_t multiset_sum_a = 0;  // sums mod 2^64 of two independent row hashes
  std::uint64_t multiset_sum_b = 0;
  std::vector<KeptRow> rows;  // empty once the capture is digest_only
};

class ResultCapture {
 public:
  explicit ResultCapture(CompareRules rules = {});

  // Every backend message of the unit, in order. Never throws on bad input: a payload that does not
  // parse marks the capture malformed and later messages are ignored.
  void on_message(char type, std::span<const std::uint8_t> payload);

  // Kept result sets in order; the last one may still be open. When the sets' own metadata
  // (columns, tags) outgrows the budget, later sets are folded into the overflow digests instead.
  const std::vector<ResultSet>& result_sets() const { return sets_; }
  std::uint64_t overflow_sets() const { return overflow_sets_; }
  std::uint64_t overflow_ordered_digest() const { return overflow_ordered_; }
  std::uint64_t overflow_multiset_digest() const { return overflow_multiset_; }

  bool digest_only() const { return digest_only_; }
  bool malformed() const { return malformed_; }
  // Estimated heap bytes of kept rows and set metadata. Stays <= max_buffered_bytes, except for
  // the open set's own column descriptions (one RowDescription) when they alone exceed it.
  std::size_t buffered_bytes() const { return meta_bytes_ + row_bytes_; }
  const CompareRules& rules() const { return rules_; }

 private:
  ResultSet& open_set();
  void set_columns(ResultSet& set, std::vector<ColumnInfo> columns, bool described);
  void on_row_description(std::span<const std::uint8_t> payload);
  void on_data_row(std::span<const std::uint8_t> payload);
  void close_set(SetEnd end, std::string tag, std::string sqlstate);
  void drop_rows();
  static std::size_t meta_cost(const ResultSet& set);

  CompareRules rules_;
  std::vector<ResultSet> sets_;
  bool open_ = false;
  std::vector<ColumnInfo> latest_columns_;  // the latest RowDescription, inherited by later sets
  std::size_t meta_bytes_ = 0;
  std::size_t row_bytes_ = 0;
  bool digest_only_ = false;
  bool malformed_ = false;
  std::uint64_t overflow_sets_ = 0;
  std::uint64_t overflow_ordered_ = 0;
  std::uint64_t overflow_multiset_ = 0;
};

}  // namespace pgdual::proxy::shadow
