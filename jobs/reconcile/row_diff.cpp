#include "jobs/reconcile/row_diff.hpp"

#include <cmath>
#include <cstdlib>
#include <map>
#include <unordered_map>

namespace pgdual::jobs::reconcile {

namespace {

// One string per key: each part with its length in front, so no two keys share one.
std::string key_id(const Key& key) {
  std::string out;
  for (const auto& part : key) {
    out += std::to_string(part.size());
    out += ':';
    out += part;
  }
  return out;
}

bool is_float(const std::string& type) { return type == "real" || type == "double precision"; }

const Value& value_at(const FetchedRow& row, std::size_t i, bool normalized) {
  return normalized && i < row.normalized_values.size() ? row.normalized_values[i] : row.values[i];
}

// Values compared as the fingerprints compare them (json as jsonb, numeric by value), floats
// with the relative tolerance when one is set.
bool column_equal(const std::string& type, const FetchedRow& a, const FetchedRow& b, std::size_t i,
                  double tolerance) {
  if (tolerance > 0 && is_float(type)) {
    const Value& x = a.values[i];
    const Value& y = b.values[i];
    if (!x || !y) return !x && !y;
    return *x == *y || floats_close(*x, *y, tolerance);
  }
  return value_at(a, i, true) == value_at(b, i, true);
}

// A row only one store has, with that store's values.
RowDifference one_sided(const FetchedRow& row, DifferenceKind kind) {
  RowDifference difference;
  difference.key = row.key;
  difference.kind = kind;
  (kind == DifferenceKind::only_on_old ? difference.old_values : difference.new_values) =
      row.values;
  return difference;
}

}  // namespace

const char* to_string(DifferenceKind kind) {
  switch (kind) {
    case DifferenceKind::only_on_old:
      return "only_on_old";
    case DifferenceKind::only_on_new:
      return "only_on_new";
    case DifferenceKind::different:
      return "different";
  }
  return "different";
}

bool floats_close(const std::string& a, const std::string& b, double tolerance) {
  char* end_a = nullptr;
  char* end_b = nullptr;
  const double x = std::strtod(a.c_str(), &end_a);
  const double y = std::strtod(b.c_str(), &end_b);
  if (*end_a != '\0' || *end_b != '\0') return false;
  if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && std::isnan(y);
  if (std::isinf(x) || std::isinf(y)) return x == y;
  return std::fabs(x - y) <= tolerance * std::max(std::fabs(x), std::fabs(y));
}

std::vector<CandidateRow> candidates_of(const std::vector<KeyFingerprint>& old_rows,
                                        const std::vector<KeyFingerprint>& new_rows) {
  std::unordered_map<std::int64_t, const KeyFingerprint*> on_new;
  on_new.reserve(new_rows.size());
  for (const auto& row : new_rows) on_new.emplace(row.key_hash, &row);
  std::vector<CandidateRow> out;
  for (const auto& row : old_rows) {
    const auto found = on_new.find(row.key_hash);
    if (found == on_new.end()) {
      out.push_back({true, row.row});
      continue;
    }
    if (found->second->fingerprint != row.fingerprint) out.push_back({true, row.row});
    on_new.erase(found);
  }
  for (const auto& [hash, row] : on_new) out.push_back({false, row->row});
  return out;
}

std::vector<RowDifference> compare_rows(const TablePlan& plan,
                                        const std::vector<FetchedRow>& old_rows,
                                        const std::vector<FetchedRow>& new_rows,
                                        double float_tolerance) {
  std::map<std::string, const FetchedRow*> on_new;
  for (const auto& row : new_rows) on_new.emplace(key_id(row.key), &row);
  std::vector<RowDifference> out;
  for (const auto& row : old_rows) {
    const auto found = on_new.find(key_id(row.key));
    if (found == on_new.end()) {
      out.push_back(one_sided(row, DifferenceKind::only_on_old));
      continue;
    }
    const FetchedRow& other = *found->second;
    on_new.erase(found);
    if (row.normalized == other.normalized) continue;
    RowDifference difference;
    difference.key = row.key;
    difference.old_values = row.values;
    difference.new_values = other.values;
    for (std::size_t i = 0;
         i < plan.columns_quoted.size() && i < row.values.size() && i < other.values.size(); ++i) {
      const std::string type = i < plan.column_types.size() ? plan.column_types[i] : "";
      if (!column_equal(type, row, other, i, float_tolerance)) {
        difference.columns.push_back(plan.columns_quoted[i]);
      }
    }
    // Every value equal as a value: floats within the tolerance whose rounded fingerprints
    // straddled a digit.
    if (difference.columns.empty()) continue;
    out.push_back(std::move(difference));
  }
  for (const auto& [id, row] : on_new) {
    out.push_back(one_sided(*row, DifferenceKind::only_on_new));
  }
  return out;
}

}  // namespace pgdual::jobs::reconcile
