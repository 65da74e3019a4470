#include "jobs/reconcile/row_diff.hpp"

#include <cmath>
#include <cstdlib>
#include <map>
#include <unordered_map>

namespace pgdual::jobs::reconcile {

namespace {

// One string per key: values joined by a byte no key text holds.
std::string key_id(const Key& key) {
  std::string out;
  for (const auto& part : key) {
    out += part;
    out += '\x1f';
  }
  return out;
}

bool is_float(const std::string& type) { return type == "real" || type == "double precision"; }

bool values_equal(const std::string& type, const Value& a, const Value& b, double tolerance) {
  if (a == b) return true;
  if (!a || !b || tolerance <= 0 || !is_float(type)) return false;
  return floats_close(*a, *b, tolerance);
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

std::vector<Key> candidates_of(const std::vector<KeyFingerprint>& old_rows,
                               const std::vector<KeyFingerprint>& new_rows) {
  std::unordered_map<std::string, const KeyFingerprint*> on_new;
  on_new.reserve(new_rows.size());
  for (const auto& row : new_rows) on_new.emplace(key_id(row.key), &row);
  std::vector<Key> out;
  for (const auto& row : old_rows) {
    const auto found = on_new.find(key_id(row.key));
    if (found == on_new.end()) {
      out.push_back(row.key);
      continue;
    }
    if (found->second->fingerprint != row.fingerprint) out.push_back(row.key);
    on_new.erase(found);
  }
  for (const auto& [id, row] : on_new) out.push_back(row->key);
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
      out.push_back({row.key, DifferenceKind::only_on_old, {}, row.values, {}});
      continue;
    }
    const FetchedRow& other = *found->second;
    on_new.erase(found);
    if (row.normalized == other.normalized) continue;
    RowDifference difference{row.key, DifferenceKind::different, {}, row.values, other.values};
    for (std::size_t i = 0;
         i < plan.columns_quoted.size() && i < row.values.size() && i < other.values.size(); ++i) {
      const std::string type = i < plan.column_types.size() ? plan.column_types[i] : "";
      if (!values_equal(type, row.values[i], other.values[i], float_tolerance)) {
        difference.columns.push_back(plan.columns_quoted[i]);
      }
    }
    // Every value within the float tolerance: the rounded fingerprints only straddled a digit.
    if (difference.columns.empty()) continue;
    out.push_back(std::move(difference));
  }
  for (const auto& [id, row] : on_new) {
    out.push_back({row->key, DifferenceKind::only_on_new, {}, {}, row->values});
  }
  return out;
}

}  // namespace pgdual::jobs::reconcile
