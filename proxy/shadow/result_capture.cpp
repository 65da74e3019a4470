#include "proxy/shadow/result_capture.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <utility>

#include "protocol/constants.hpp"
#include "protocol/message_reader.hpp"
#include "protocol/messages.hpp"

namespace pgdual::proxy::shadow {

namespace {

namespace backend = protocol::backend;

std::uint64_t finalize(std::uint64_t x) {  // MurmurHash3's 64-bit finalizer: a bijection
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

// Two independent 64-bit hashes of a sequence of fields, fed 8 bytes at a time straight from the
// payload. Each field is prefixed by its length + 1 (0 = NULL), so NULL, '' and field boundaries
// all hash differently. Not collision-resistant against an adversary: a store cannot be made to
// hide a difference by anyone but whoever writes its data, which is not our threat.
class RowHasher {
 public:
  void null_value() { absorb(0); }
  void value(std::string_view v) {
    absorb(v.size() + 1);
    const char* p = v.data();
    std::size_t n = v.size();
    for (; n >= 8; p += 8, n -= 8) {
      std::uint64_t word;
      std::memcpy(&word, p, 8);
      absorb(word);
    }
    if (n > 0) {
      std::uint64_t word = 0;
      std::memcpy(&word, p, n);
      absorb(word);
    }
  }
  void number(std::uint64_t x) { absorb(x); }
  std::uint64_t a() const { return finalize(a_); }
  std::uint64_t b() const { return finalize(b_ ^ 0x5851f42d4c957f2dULL); }

 private:
  void absorb(std::uint64_t w) {
    a_ = std::rotl((a_ ^ w) * 0x9e3779b97f4a7c15ULL, 31);
    b_ = std::rotl(b_ + w, 27) * 0xc2b2ae3d27d4eb4fULL + 0x52dce729ULL;
  }
  std::uint64_t a_ = 0x243f6a8885a308d3ULL;
  std::uint64_t b_ = 0x13198a2e03707344ULL;
};

using NormBuffer = std::array<char, 96>;

std::optional<double> parse_finite(std::string_view text) {
  double x = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), x);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(x)) {
    return std::nullopt;
  }
  return x;
}

// Drops fractional-second digits beyond `precision`, then trailing zeros (PostgreSQL prints none,
// so "…:05.1" and a truncated "…:05.100" must agree). The fraction is the first '.' after the
// first ':' (German DateStyle uses dots in the date).
std::string_view truncate_seconds(std::string_view v, int precision, NormBuffer& buf) {
  const auto colon = v.find(':');
  const auto dot = colon == std::string_view::npos ? colon : v.find('.', colon);
  if (dot == std::string_view::npos || v.size() > buf.size()) return v;
  std::size_t digits_end = dot + 1;
  while (digits_end < v.size() && v[digits_end] >= '0' && v[digits_end] <= '9') ++digits_end;
  std::size_t keep =
      std::min<std::size_t>(static_cast<std::size_t>(precision), digits_end - dot - 1);
  while (keep > 0 && v[dot + keep] == '0') --keep;
  const std::size_t head = keep > 0 ? dot + 1 + keep : dot;
  std::memcpy(buf.data(), v.data(), head);
  std::memcpy(buf.data() + head, v.data() + digits_end, v.size() - digits_end);
  return {buf.data(), head + v.size() - digits_end};
}

// The bytes that stand for a value in hashes. See ValueKind for the float grid.
std::string_view normalized(ValueKind kind, std::string_view v, const CompareRules& rules,
                            NormBuffer& buf) {
  if (kind == ValueKind::time_text) {
    return truncate_seconds(v, std::clamp(rules.timestamp_precision, 0, 6), buf);
  }
  if (kind != ValueKind::float_text) return v;
  auto x = parse_finite(v);
  if (!x) return v;
  int exponent = 1;
  if (std::fabs(*x) >= 2) std::frexp(std::fabs(*x), &exponent);
  const double step = std::ldexp(rules.float_tolerance, exponent - 1);
  // Cells are centred on multiples of the step, so round numbers sit far from an edge.
  const double cell = std::nearbyint(*x / step) + 0.0;  // + 0.0 turns -0 into +0
  if (!std::isfinite(cell)) return v;
  // A leading NUL: PostgreSQL text never holds one, so no raw value reads the same.
  buf[0] = '\0';
  std::memcpy(buf.data() + 1, &exponent, sizeof exponent);
  std::memcpy(buf.data() + 1 + sizeof exponent, &cell, sizeof cell);
  return {buf.data(), 1 + sizeof exponent + sizeof cell};
}

std::string_view text_of(std::span<const std::uint8_t> bytes) {
  return protocol::as_string_view(bytes);
}

}  // namespace

ValueKind value_kind(const ColumnInfo& column, const CompareRules& rules) {
  const auto& ignored = rules.ignore_columns;
  if (std::find(ignored.begin(), ignored.end(), column.name) != ignored.end()) {
    return ValueKind::ignored;
  }
  if (column.format != 0) return ValueKind::raw;  // binary: raw bytes
  switch (column.type_oid) {
    case type_oid::kFloat4:
    case type_oid::kFloat8:
    case type_oid::kNumeric:
      return rules.float_tolerance > 0 ? ValueKind::float_text : ValueKind::raw;
    case type_oid::kTime:
    case type_oid::kTimeTz:
    case type_oid::kTimestamp:
    case type_oid::kTimestampTz:
      return rules.timestamp_precision < 6 ? ValueKind::time_text : ValueKind::raw;
    default:
      return ValueKind::raw;
  }
}

bool values_equal(ValueKind kind, const FieldValue& a, const FieldValue& b,
                  const CompareRules& rules) {
  if (kind == ValueKind::ignored) return true;
  if (!a || !b) return !a && !b;
  if (kind == ValueKind::float_text) {
    auto x = parse_finite(*a), y = parse_finite(*b);
    if (!x || !y) return *a == *b;
    const double scale = std::max({1.0, std::fabs(*x), std::fabs(*y)});
    return std::fabs(*x - *y) <= rules.float_tolerance * scale;
  }
  if (kind == ValueKind::time_text) {
    NormBuffer buf_a, buf_b;
    return normalized(kind, *a, rules, buf_a) == normalized(kind, *b, rules, buf_b);
  }
  return *a == *b;
}

std::uint64_t hash_fields(const std::vector<ValueKind>& kinds, const std::vector<FieldValue>& row,
                          const std::vector<std::size_t>& columns, const CompareRules& rules) {
  RowHasher hasher;
  NormBuffer buf;
  for (std::size_t c : columns) {
    if (c >= row.size() || c >= kinds.size() || kinds[c] == ValueKind::ignored) continue;
    if (!row[c]) {
      hasher.null_value();
    } else {
      hasher.value(normalized(kinds[c], *row[c], rules, buf));
    }
  }
  return hasher.a();
}

ResultCapture::ResultCapture(CompareRules rules) : rules_(std::move(rules)) {}

void ResultCapture::on_message(char type, std::span<const std::uint8_t> payload) {
  if (malformed_) return;
  switch (type) {
    case backend::kRowDescription:
      return on_row_description(payload);
    case backend::kDataRow:
      return on_data_row(payload);
    case backend::kCommandComplete: {
      auto tag = protocol::parse_command_complete(payload);
      if (!tag) break;
      return close_set(SetEnd::complete, std::move(*tag), {});
    }
    case backend::kErrorResponse: {
      auto fields = protocol::parse_error_fields(payload);
      if (!fields) break;
      return close_set(SetEnd::error, {}, std::move(fields->sqlstate));
    }
    case backend::kEmptyQuery:
      if (!payload.empty()) break;
      return close_set(SetEnd::empty_query, {}, {});
    case backend::kPortalSuspended:
      if (!payload.empty()) break;
      return close_set(SetEnd::suspended, {}, {});
    default:
      return;  // ParseComplete, NoData, notices, ReadyForQuery, ...: not part of a result
  }
  malformed_ = true;
}

std::size_t ResultCapture::meta_cost(const ResultSet& set) {
  std::size_t cost = sizeof(ResultSet) + set.command_tag.size() + set.sqlstate.size();
  for (const auto& column : set.columns) {
    cost += sizeof(ColumnInfo) + sizeof(ValueKind) + column.name.size();
  }
  return cost;
}

ResultSet& ResultCapture::open_set() {
  if (!open_) {
    sets_.emplace_back();
    meta_bytes_ += meta_cost(sets_.back());
    open_ = true;
    if (!latest_columns_.empty()) set_columns(sets_.back(), latest_columns_, false);
  }
  return sets_.back();
}

void ResultCapture::set_columns(ResultSet& set, std::vector<ColumnInfo> columns, bool described) {
  meta_bytes_ -= meta_cost(set);
  set.columns = std::move(columns);
  set.kinds.clear();
  for (const auto& column : set.columns) set.kinds.push_back(value_kind(column, rules_));
  set.described = described;
  meta_bytes_ += meta_cost(set);
  if (buffered_bytes() > rules_.max_buffered_bytes) drop_rows();
}

void ResultCapture::on_row_description(std::span<const std::uint8_t> payload) {
  auto fields = protocol::parse_row_description(payload);
  ResultSet& set = open_set();
  if (!fields || set.row_count > 0) {  // rows always follow their description
    malformed_ = true;
    return;
  }
  std::vector<ColumnInfo> columns;
  columns.reserve(fields->size());
  for (auto& f : *fields) {
    columns.push_back({std::move(f.name), f.table_oid, f.column, f.type_oid, f.format});
  }
  latest_columns_ = columns;
  set_columns(set, std::move(columns), true);
}

void ResultCapture::on_data_row(std::span<const std::uint8_t> payload) {
  ResultSet& set = open_set();
  protocol::MessageReader reader(payload);
  auto count = reader.int16();
  if (!count || *count < 0) {
    malformed_ = true;
    return;
  }
  const auto width = static_cast<std::size_t>(*count);
  if (width != set.columns.size()) {
    // Inherited or absent descriptions give way to unknown columns; a described set must agree.
    if (set.described || set.row_count > 0) {
      malformed_ = true;
      return;
    }
    std::vector<ColumnInfo> unknown(width);
    for (std::size_t i = 0; i < width; ++i) unknown[i].name = "column " + std::to_string(i + 1);
    set_columns(set, std::move(unknown), false);
  }
  const std::size_t cost = sizeof(KeptRow) + width * sizeof(FieldValue) + payload.size();
  if (!digest_only_ && buffered_bytes() + cost > rules_.max_buffered_bytes) drop_rows();
  const bool keep = !digest_only_;
  KeptRow row;
  if (keep) row.values.reserve(width);
  RowHasher hasher;
  NormBuffer buf;
  std::size_t i = 0;
  for (; i < width; ++i) {
    auto length = reader.int32();
    if (!length || *length < -1) break;
    const ValueKind kind = set.kinds[i];
    if (*length == -1) {
      if (kind != ValueKind::ignored) hasher.null_value();
      if (keep) row.values.emplace_back();
      continue;
    }
    auto bytes = reader.bytes(static_cast<std::size_t>(*length));
    if (!bytes) break;
    const std::string_view value = text_of(*bytes);
    if (kind != ValueKind::ignored) hasher.value(normalized(kind, value, rules_, buf));
    if (keep) row.values.emplace_back(std::in_place, value);
  }
  if (i != width || !reader.at_end()) {
    malformed_ = true;
    return;
  }
  const std::uint64_t a = hasher.a(), b = hasher.b();
  ++set.row_count;
  set.ordered_digest = finalize(set.ordered_digest ^ a) + b;
  set.multiset_sum_a += a;
  set.multiset_sum_b += b;
  if (keep) {
    row.hash = a;
    set.rows.push_back(std::move(row));
    row_bytes_ += cost;
  }
}

void ResultCapture::close_set(SetEnd end, std::string tag, std::string sqlstate) {
  ResultSet& set = open_set();
  meta_bytes_ -= meta_cost(set);
  set.end = end;
  set.command_tag = std::move(tag);
  set.sqlstate = std::move(sqlstate);
  meta_bytes_ += meta_cost(set);
  open_ = false;
  if (overflow_sets_ == 0 && buffered_bytes() <= rules_.max_buffered_bytes) return;
  drop_rows();
  if (overflow_sets_ == 0 && meta_bytes_ <= rules_.max_buffered_bytes) return;
  // Too many sets to keep even their metadata: fold this one and every later one into the
  // overflow digests, so the kept sets stay a prefix of the unit's result sets.
  RowHasher summary;
  for (const auto& column : set.columns) {
    summary.value(column.name);
    summary.number(static_cast<std::uint64_t>(static_cast<std::uint32_t>(column.type_oid)));
  }
  summary.number(static_cast<std::uint64_t>(set.end));
  summary.value(set.command_tag);
  summary.value(set.sqlstate);
  summary.number(set.row_count);
  summary.number(set.multiset_sum_a);
  summary.number(set.multiset_sum_b);
  overflow_multiset_ = finalize(overflow_multiset_ ^ summary.a());
  summary.number(set.ordered_digest);
  overflow_ordered_ = finalize(overflow_ordered_ ^ summary.a());
  ++overflow_sets_;
  meta_bytes_ -= meta_cost(set);
  sets_.pop_back();
}

void ResultCapture::drop_rows() {
  for (auto& set : sets_) std::vector<KeptRow>().swap(set.rows);
  row_bytes_ = 0;
  digest_only_ = true;
}

}  // namespace pgdual::proxy::shadow
