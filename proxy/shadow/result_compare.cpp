#include "proxy/shadow/result_compare.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace pgdual::proxy::shadow {

namespace {

using EntityId = std::vector<std::pair<std::string, FieldValue>>;

std::string render_row(const ResultSet& set, const KeptRow& row) {
  std::string out;
  for (std::size_t c = 0; c < row.values.size() && c < set.columns.size(); ++c) {
    if (!out.empty()) out += ", ";
    out += set.columns[c].name;
    out += '=';
    out += row.values[c] ? *row.values[c] : "NULL";
  }
  return out;
}

std::string render_columns(const ResultSet& set) {
  std::string out;
  for (const auto& column : set.columns) {
    if (!out.empty()) out += ", ";
    out += column.name + ":" + std::to_string(column.type_oid);
  }
  return out;
}

// "rows=3 digest=00ab..." ("sets=..." for the overflow digests).
std::string render_digest(std::string_view unit, std::uint64_t count, std::uint64_t digest) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(digest));
  return std::string(unit) + "=" + std::to_string(count) + " digest=" + hex;
}

std::string render_end(const ResultSet& set) {
  switch (set.end) {
    case SetEnd::complete:
      return set.command_tag;
    case SetEnd::error:
      return "ERROR " + set.sqlstate;
    case SetEnd::empty_query:
      return "(empty query)";
    case SetEnd::suspended:
      return "(portal suspended)";
    case SetEnd::open:
      break;
  }
  return "(incomplete)";
}

// What the comparison needs to know about one pair of result sets with equal column lists.
struct SetPair {
  std::size_t index;
  const ResultSet& primary;
  const ResultSet& secondary;
  std::vector<ValueKind> kinds;
  std::vector<std::size_t> keys;  // empty: whole row
  std::vector<bool> is_key;
  std::vector<std::uint64_t> column_counts;
};

class Comparer {
 public:
  Comparer(const CompareRules& rules, bool ordered, const std::vector<std::size_t>& keys)
      : rules_(rules), ordered_(ordered), key_columns_(keys) {}

  ComparisonResult run(const ResultCapture& primary, const ResultCapture& secondary) {
    if (primary.malformed() || secondary.malformed()) {
      raise(Outcome::error);
      add_note(0, DifferenceKind::status, "(malformed)", primary.malformed() ? "malformed" : "ok",
               secondary.malformed() ? "malformed" : "ok");
      return std::move(out_);
    }
    const bool rows_kept = !primary.digest_only() && !secondary.digest_only();
    const auto& p_sets = primary.result_sets();
    const auto& s_sets = secondary.result_sets();
    for (std::size_t i = 0; i < std::max(p_sets.size(), s_sets.size()); ++i) {
      if (i >= s_sets.size()) {
        set_only_on_one_side(i, &p_sets[i], nullptr);
      } else if (i >= p_sets.size()) {
        set_only_on_one_side(i, nullptr, &s_sets[i]);
      } else {
        compare_set(i, p_sets[i], s_sets[i], rows_kept);
      }
    }
    const auto digest_of = [this](const ResultCapture& c) {
      return ordered_ ? c.overflow_ordered_digest() : c.overflow_multiset_digest();
    };
    if (primary.overflow_sets() != secondary.overflow_sets() ||
        digest_of(primary) != digest_of(secondary)) {
      inexact_rows(1);
      add_note(p_sets.size(), DifferenceKind::digest, "(digest)",
               render_digest("sets", primary.overflow_sets(), digest_of(primary)),
               render_digest("sets", secondary.overflow_sets(), digest_of(secondary)));
    }
    return std::move(out_);
  }

 private:
  void raise(Outcome outcome) { out_.outcome = std::max(out_.outcome, outcome); }

  void add_note(std::size_t set, DifferenceKind kind, std::string field, FieldValue primary,
                FieldValue secondary) {
    raise(Outcome::mismatch);
    out_.differences.push_back(
        {set, {}, false, std::move(field), std::move(primary), std::move(secondary), kind});
  }

  void inexact_rows(std::uint64_t at_least) {
    out_.differing_rows += at_least;
    out_.differing_rows_exact = false;
  }

  void set_only_on_one_side(std::size_t index, const ResultSet* p, const ResultSet* s) {
    // A set only the secondary produced, ending in an error: it failed where the primary did not.
    if (s != nullptr && s->end == SetEnd::error) raise(Outcome::error);
    out_.differing_rows_exact = false;
    add_note(index, DifferenceKind::status, "(result_set)",
             p ? FieldValue(render_end(*p)) : std::nullopt,
             s ? FieldValue(render_end(*s)) : std::nullopt);
  }

  void compare_set(std::size_t index, const ResultSet& p, const ResultSet& s, bool rows_kept) {
    const bool p_failed = p.end == SetEnd::error, s_failed = s.end == SetEnd::error;
    if (p_failed || s_failed) {
      if (p_failed && s_failed && p.sqlstate == s.sqlstate) return;
      if (s_failed && !p_failed) raise(Outcome::error);
      out_.differing_rows_exact = false;
      add_note(index, DifferenceKind::status, "(error)", render_end(p), render_end(s));
      return;
    }
    // A tag that differs only by its row count is reported by the row comparison.
    if (p.end != s.end || (p.command_tag != s.command_tag && p.row_count == s.row_count)) {
      add_note(index, DifferenceKind::status, "(command_tag)", render_end(p), render_end(s));
    }
    if (!same_columns(p, s)) {
      out_.differing_rows_exact = false;
      add_note(index, DifferenceKind::columns, "(columns)", render_columns(p), render_columns(s));
      return;
    }
    if (!rows_kept) return compare_digests(index, p, s);
    SetPair pair{index, p, s, {}, {}, std::vector<bool>(p.columns.size()), {}};
    for (const auto& column : p.columns) pair.kinds.push_back(value_kind(column, rules_));
    pair.column_counts.assign(p.columns.size(), 0);
    for (std::size_t key : key_columns_) {
      if (key >= p.columns.size()) {
        pair.keys.clear();
        break;
      }
      if (pair.kinds[key] != ValueKind::ignored) pair.keys.push_back(key);
    }
    for (std::size_t key : pair.keys) pair.is_key[key] = true;
    ordered_ ? compare_ordered(pair) : compare_multiset(pair);
    for (std::size_t c = 0; c < p.columns.size(); ++c) {
      if (pair.column_counts[c] > 0) count_column(p.columns[c], pair.column_counts[c]);
    }
  }

  static bool same_columns(const ResultSet& p, const ResultSet& s) {
    if (p.columns.size() != s.columns.size()) return false;
    for (std::size_t c = 0; c < p.columns.size(); ++c) {
      if (p.columns[c].name != s.columns[c].name) return false;
      if (p.columns[c].type_oid != s.columns[c].type_oid &&
          !same_text_form(p.columns[c], s.columns[c])) {
        return false;
      }
    }
    return true;
  }

  // A widened column (integer on the old store, bigint on the new; varchar and text; numeric of
  // another precision), as migration.mapping's views and the cdc preflight allow: in text format
  // the same value has the same bytes, so the rows compare as they are.
  static bool same_text_form(const ColumnInfo& a, const ColumnInfo& b) {
    const auto family = [](std::uint32_t oid) {
      switch (oid) {
        case 20:  // int8
        case 21:  // int2
        case 23:  // int4
          return 1;
        case 1700:  // numeric
          return 2;
        case 25:    // text
        case 1043:  // varchar
          return 3;
        default:
          return 0;
      }
    };
    const int fa = family(a.type_oid);
    return a.format == 0 && b.format == 0 && fa != 0 &&
           (fa == family(b.type_oid) ||
            (fa <= 2 && family(b.type_oid) <= 2 && family(b.type_oid) != 0));
  }

  void compare_digests(std::size_t index, const ResultSet& p, const ResultSet& s) {
    const bool same =
        p.row_count == s.row_count &&
        (ordered_ ? p.ordered_digest == s.ordered_digest
                  : p.multiset_sum_a == s.multiset_sum_a && p.multiset_sum_b == s.multiset_sum_b);
    if (same) return;
    const std::uint64_t gap =
        p.row_count > s.row_count ? p.row_count - s.row_count : s.row_count - p.row_count;
    inexact_rows(std::max<std::uint64_t>(gap, 1));
    const auto digest = [this](const ResultSet& set) {
      return ordered_ ? set.ordered_digest : set.multiset_sum_a ^ set.multiset_sum_b;
    };
    add_note(index, DifferenceKind::digest, "(digest)",
             render_digest("rows", p.row_count, digest(p)),
             render_digest("rows", s.row_count, digest(s)));
  }

  void count_column(const ColumnInfo& column, std::uint64_t count) {
    for (auto& entry : out_.column_differences) {
      if (entry.table_oid == column.table_oid && entry.column == column.name) {
        entry.count += count;
        return;
      }
    }
    out_.column_differences.push_back({column.table_oid, column.name, count});
  }

  EntityId entity_of(const SetPair& pair, const KeptRow& row, std::size_t position) const {
    EntityId id;
    if (pair.keys.empty() && ordered_) {
      id.emplace_back("row", std::to_string(position + 1));
      return id;
    }
    for (std::size_t c = 0; c < row.values.size(); ++c) {
      const bool in_key = pair.keys.empty() ? pair.kinds[c] != ValueKind::ignored : pair.is_key[c];
      if (in_key) id.emplace_back(pair.primary.columns[c].name, row.values[c]);
    }
    return id;
  }

  bool detail_allowed() const { return detailed_rows_ < rules_.max_detail_rows; }

  void row_differs(bool detailed) {
    ++out_.differing_rows;
    if (detailed) ++detailed_rows_;
    raise(Outcome::mismatch);
  }

  // Compares the non-key fields of two rows taken as the same entity.
  void compare_fields(SetPair& pair, const KeptRow& p, const KeptRow& s, std::size_t position) {
    if (p.hash == s.hash && p.values == s.values) return;
    const bool detailed = detail_allowed();
    bool differs = false;
    EntityId entity;
    for (std::size_t c = 0; c < p.values.size(); ++c) {
      if (pair.is_key[c] || values_equal(pair.kinds[c], p.values[c], s.values[c], rules_)) continue;
      ++pair.column_counts[c];
      if (detailed) {
        if (!differs) entity = entity_of(pair, p, position);
        out_.differences.push_back({pair.index, entity, pair.keys.empty() && ordered_,
                                    pair.primary.columns[c].name, p.values[c], s.values[c],
                                    DifferenceKind::field});
      }
      differs = true;
    }
    if (differs) row_differs(detailed);
  }

  // A row only one side has: missing on the secondary (`on_primary`) or extra there.
  void report_row(const SetPair& pair, const KeptRow& row, std::size_t position, bool on_primary) {
    const ResultSet& set = on_primary ? pair.primary : pair.secondary;
    FieldValue text = render_row(set, row);
    out_.differences.push_back(
        {pair.index, entity_of(pair, row, position), pair.keys.empty() && ordered_, "(row)",
         on_primary ? text : std::nullopt, on_primary ? std::nullopt : text,
         on_primary ? DifferenceKind::missing_row : DifferenceKind::extra_row});
  }

  void unmatched(const SetPair& pair, const KeptRow& row, std::size_t position, bool on_primary) {
    const bool detailed = detail_allowed();
    if (detailed) report_row(pair, row, position, on_primary);
    row_differs(detailed);
  }

  bool same_entity(const SetPair& pair, const KeptRow& p, const KeptRow& s) const {
    if (!pair.keys.empty()) {
      return std::all_of(pair.keys.begin(), pair.keys.end(), [&](std::size_t c) {
        return values_equal(pair.kinds[c], p.values[c], s.values[c], rules_);
      });
    }
    for (std::size_t c = 0; c < p.values.size(); ++c) {
      if (!values_equal(pair.kinds[c], p.values[c], s.values[c], rules_)) return false;
    }
    return true;
  }

  void compare_ordered(SetPair& pair) {
    const auto& p_rows = pair.primary.rows;
    const auto& s_rows = pair.secondary.rows;
    const std::size_t common = std::min(p_rows.size(), s_rows.size());
    for (std::size_t i = 0; i < common; ++i) {
      if (pair.keys.empty() || same_entity(pair, p_rows[i], s_rows[i])) {
        compare_fields(pair, p_rows[i], s_rows[i], i);
        continue;
      }
      // Another entity at this position: one differing row, reported from both sides.
      const bool detailed = detail_allowed();
      if (detailed) {
        report_row(pair, p_rows[i], i, true);
        report_row(pair, s_rows[i], i, false);
      }
      row_differs(detailed);
    }
    for (std::size_t i = common; i < p_rows.size(); ++i) unmatched(pair, p_rows[i], i, true);
    for (std::size_t i = common; i < s_rows.size(); ++i) unmatched(pair, s_rows[i], i, false);
  }

  void compare_multiset(SetPair& pair) {
    const auto& p_rows = pair.primary.rows;
    const auto& s_rows = pair.secondary.rows;
    const auto key_hash = [&](const KeptRow& row) {
      return pair.keys.empty() ? row.hash : hash_fields(pair.kinds, row.values, pair.keys, rules_);
    };
    std::vector<std::pair<std::uint64_t, std::size_t>> index;
    index.reserve(s_rows.size());
    for (std::size_t j = 0; j < s_rows.size(); ++j) index.emplace_back(key_hash(s_rows[j]), j);
    std::sort(index.begin(), index.end());
    // next[k]: a position at or before the first unused index entry from k on (path-compressed),
    // so runs of duplicate rows are consumed in near-constant time each.
    std::vector<std::size_t> next(index.size() + 1);
    for (std::size_t k = 0; k < next.size(); ++k) next[k] = k;
    const auto first_unused = [&](std::size_t k) {
      std::size_t root = k;
      while (next[root] != root) root = next[root];
      while (next[k] != root) k = std::exchange(next[k], root);
      return root;
    };
    std::vector<bool> used(s_rows.size());
    for (std::size_t i = 0; i < p_rows.size(); ++i) {
      const KeptRow& row = p_rows[i];
      const std::uint64_t hash = key_hash(row);
      const auto start =
          std::lower_bound(index.begin(), index.end(), std::pair{hash, std::size_t{0}});
      std::optional<std::size_t> match;
      std::size_t tries = 0;
      for (std::size_t k = first_unused(static_cast<std::size_t>(start - index.begin()));
           k < index.size() && index[k].first == hash && tries < 16;
           k = first_unused(k + 1), ++tries) {
        const std::size_t j = index[k].second;
        if (!same_entity(pair, row, s_rows[j])) continue;
        // Prefer an identical row among equal keys, so duplicates of a key pair up sensibly.
        if (!match || s_rows[j].hash == row.hash) match = k;
        if (s_rows[j].hash == row.hash) break;
      }
      if (!match) {
        unmatched(pair, row, i, true);
        continue;
      }
      used[index[*match].second] = true;
      next[*match] = *match + 1;
      compare_fields(pair, row, s_rows[index[*match].second], i);
    }
    for (std::size_t j = 0; j < s_rows.size(); ++j) {
      if (!used[j]) unmatched(pair, s_rows[j], j, false);
    }
  }

  const CompareRules& rules_;
  const bool ordered_;
  const std::vector<std::size_t>& key_columns_;
  ComparisonResult out_;
  std::size_t detailed_rows_ = 0;
};

}  // namespace

std::string_view to_string(Outcome outcome) {
  constexpr std::string_view kNames[] = {"match", "mismatch", "error"};
  return kNames[static_cast<std::size_t>(outcome)];
}

std::string_view to_string(DifferenceKind kind) {
  constexpr std::string_view kNames[] = {"field",   "missing_row", "extra_row",
                                         "columns", "digest",      "status"};
  return kNames[static_cast<std::size_t>(kind)];
}

ComparisonResult compare_results(const ResultCapture& primary, const ResultCapture& secondary,
                                 const CompareRules& rules, bool ordered,
                                 const std::vector<std::size_t>& key_columns) {
  return Comparer(rules, ordered, key_columns).run(primary, secondary);
}

}  // namespace pgdual::proxy::shadow
