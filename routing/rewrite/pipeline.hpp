#pragma once

// Applying a rewrite: the values the caller fetched replace the sites routing/rewrite/sites.hpp
// found, and each changed statement is deparsed back to SQL. Pure, no I/O.
//
// A statement goes through a RewritePipeline: an ordered list of steps that each change the
// parse tree. Every store gets the value-substitution and column-defaults steps, with the same
// values, so both servers receive identical literals; a store can have steps of its own after
// them (a schema mapping that renames tables or columns for the new store).
//
// The literals keep the exact types, so operator and parameter type resolution come out as
// before. Time sites are casts of ONE timestamptz literal T, so the session's TimeZone applies
// as it does for the functions themselves. As the deparser prints them (checked against
// PostgreSQL 15: same values and types as the functions):
//   now(), CURRENT_TIMESTAMP    'T'::timestamp with time zone
//   CURRENT_TIMESTAMP(3)        'T'::timestamp (3) with time zone
//   LOCALTIMESTAMP(0)           'T'::timestamp with time zone::timestamp(0)
//   CURRENT_DATE                'T'::timestamp with time zone::pg_catalog.date
//   CURRENT_TIME(2)             'T'::timestamp with time zone::time (2) with time zone
//   LOCALTIME                   'T'::timestamp with time zone::time
//   random()                    (0.84018771715470952)::double precision  (17 digits: exact)
//   gen_random_uuid()           'U'::pg_catalog.uuid
//   nextval('s')                42::bigint, (5000000000)::bigint
// A missing column default becomes a column appended to the INSERT's column list and a value
// appended to every VALUES row (an explicit DEFAULT is replaced in place), plus OVERRIDING
// SYSTEM VALUE for an identity ALWAYS column; a time default stays a plain timestamptz that
// the assignment converts to the column's type. Parameters ($1, ...) and RETURNING are
// deparsed as they were.

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "routing/rewrite/sites.hpp"

struct PgQuery__Node;

namespace pgdual::routing {

// The values for one execution, indexed by RewriteSite::value_index. The vectors' sizes must
// match the analysis exactly.
struct RewriteValues {
  // One per RewriteAnalysis::time_slots entry. ISO 8601 with an explicit offset, e.g.
  // "2024-05-01 12:34:56.123456+00": read the same whatever the session's DateStyle/TimeZone.
  std::vector<std::string> timestamps;
  std::vector<double> randoms;                // random_count of them, finite
  std::vector<std::string> uuids;             // uuid_count of them, 8-4-4-4-12 hex digits
  std::vector<std::int64_t> sequence_values;  // one per RewriteAnalysis::sequences entry

  // Parameter mode, for a named prepared statement whose text serves every execution: when
  // > 0, each value becomes a parameter instead of a literal (same casts), numbered from
  // parameter_base in the order of parameter_types(); the vectors above only need their sizes.
  int parameter_base = 0;
  // Parameter mode: a sequence parameter is COALESCE($n, nextval('seq')), so that a Bind that
  // could not get the value from the primary (NULL) lets each store draw its own. False under
  // migration.mapping, whose stores name the sequence differently: then just $n, and a NULL
  // fails the statement on both stores.
  bool own_sequence_fallback = true;
};

// Parameter mode: the type OIDs of the added parameters, in order (timestamps, randoms,
// uuids, sequence values), and the number of each.
std::vector<std::int32_t> parameter_types(const RewriteAnalysis& analysis);

// Parameter mode: the text of every added parameter's value for one execution, in the order
// of parameter_types(). A sequence parameter is COALESCE($n, nextval('seq')): NULL lets each
// store draw its own value.
std::vector<std::string> parameter_values(const RewriteValues& values);

// What a step sees while it rewrites one statement.
struct RewriteContext {
  const StatementSites& statement;  // the statement's analysis
  const RewriteValues& values;
  std::size_t statement_index = 0;
  bool changed = false;  // a step that changed the tree sets it: the statement is deparsed
  std::string error;     // a step that failed says why
};

class RewriteStep {
 public:
  virtual ~RewriteStep() = default;
  virtual std::string_view name() const = 0;
  // Whether the step has anything to do for this statement; when no step has, the statement
  // is not parsed again and keeps its text byte for byte.
  virtual bool applies_to(const StatementSites& statement) const = 0;
  // False on failure, with context.error set; the whole rewrite then fails.
  virtual bool apply(PgQuery__Node& statement, RewriteContext& context) const = 0;
};

// Replaces each function-call site (now(), random(), nextval('s'), ...) by its literal.
class ValueSubstitutionStep final : public RewriteStep {
 public:
  std::string_view name() const override { return "value substitution"; }
  bool applies_to(const StatementSites& statement) const override;
  bool apply(PgQuery__Node& statement, RewriteContext& context) const override;
};

// Makes the volatile column defaults of INSERT ... VALUES / DEFAULT VALUES explicit.
class ColumnDefaultsStep final : public RewriteStep {
 public:
  std::string_view name() const override { return "column defaults"; }
  bool applies_to(const StatementSites& statement) const override;
  bool apply(PgQuery__Node& statement, RewriteContext& context) const override;
};

class RewritePipeline {
 public:
  using StepPtr = std::shared_ptr<const RewriteStep>;

  // The pipeline for one target store: value substitution, column defaults, then the store's
  // own steps. Those run last so that they see the whole statement, including the columns the
  // defaults step added.
  static RewritePipeline for_store(std::vector<StepPtr> store_steps = {});

  RewritePipeline& then(StepPtr step);
  const std::vector<StepPtr>& steps() const { return steps_; }
  // Only the two steps every store gets (value substitution, column defaults): nothing of a
  // store's own that would need the parse tree.
  bool standard_only() const { return standard_only_; }
  bool applies_to(const StatementSites& statement) const;
  // Runs every step that applies; false at the first failure (context.error says why).
  bool run(PgQuery__Node& statement, RewriteContext& context) const;

 private:
  std::vector<StepPtr> steps_;
  bool standard_only_ = false;  // for_store() without store steps, and nothing added since
};

struct RewriteResult {
  bool ok = false;
  std::string sql;  // the text to send: statements no step changed keep their text
  bool changed = false;
  std::string error;
};

// Parses `sql` again, checks it against `analysis` (made from the same text), runs `pipeline`
// on each statement and deparses the changed ones. Fails, without a partial text, when the
// analysis has an error or an unrewritable construct, when `values` does not fit it, or when a
// step fails. Thread-safe if the steps are.
RewriteResult rewrite_statement_text(std::string_view sql, const RewriteAnalysis& analysis,
                                     const RewriteValues& values, const RewritePipeline& pipeline);

// A bounded LRU cache of analyses keyed by the statement text: the values differ per
// execution, the analysis does not. Not keyed on the defaults or the functions: clear() when
// they change (DDL, reload, a catalog read again). One per worker thread; not thread-safe.
class RewriteCache {
 public:
  // Texts longer than max_text_bytes are analysed but not kept.
  explicit RewriteCache(std::size_t capacity = 1024, std::size_t max_text_bytes = 64 * 1024);
  RewriteCache(const RewriteCache&) = delete;
  RewriteCache& operator=(const RewriteCache&) = delete;

  // Shared, so it stays valid while the caller fetches the values, whatever the cache does.
  std::shared_ptr<const RewriteAnalysis> get(
      std::string_view sql, const ColumnDefaults& defaults,
      const std::vector<std::string>& volatile_functions = {},
      const FunctionCatalog* functions = nullptr);

  // The same, keyed first by `shape` (the text with its literals replaced, routing/
  // literal_key.hpp): statements that differ only in literal values share one analysis when it
  // does not depend on them (no nextval('...') call, no time precision, no large-object OID,
  // no string that may be 'now': input_time_literals.hpp), so a client that inlines values
  // does not pay a parse per statement for the analysis.
  std::shared_ptr<const RewriteAnalysis> get(std::string_view shape, std::string_view sql,
                                             const ColumnDefaults& defaults,
                                             const std::vector<std::string>& volatile_functions,
                                             const FunctionCatalog* functions = nullptr);
  void clear();
  std::size_t size() const { return index_.size(); }
  std::uint64_t hits() const { return hits_; }
  std::uint64_t misses() const { return misses_; }

 private:
  struct Entry {
    std::string sql;
    std::shared_ptr<const RewriteAnalysis> analysis;
  };
  std::size_t capacity_;
  std::size_t max_text_bytes_;
  std::list<Entry> entries_;  // most recently used first
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;  // views Entry::sql
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;

  std::shared_ptr<const RewriteAnalysis> find(std::string_view key);
  void remember(std::string_view key, std::shared_ptr<const RewriteAnalysis> analysis);
};

}  // namespace pgdual::routing
