#include "routing/classify/parse_guard.hpp"

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <exception>
#include <memory>
#include <vector>

namespace pgdual::routing::detail {
namespace {

// One open parenthesis, bracket or CASE ... END.
struct Level {
  bool is_case = false;
  std::size_t structural = 0;  // tokens that nest across AND/OR/comma
  std::size_t operators = 0;   // other non-leaf tokens since the last AND, OR or comma
};

// Tokens that never add a nesting level by themselves.
bool is_leaf(PgQuery__Token token) {
  switch (token) {
    case PG_QUERY__TOKEN__IDENT:
    case PG_QUERY__TOKEN__UIDENT:
    case PG_QUERY__TOKEN__FCONST:
    case PG_QUERY__TOKEN__SCONST:
    case PG_QUERY__TOKEN__USCONST:
    case PG_QUERY__TOKEN__BCONST:
    case PG_QUERY__TOKEN__XCONST:
    case PG_QUERY__TOKEN__ICONST:
    case PG_QUERY__TOKEN__PARAM:
    case PG_QUERY__TOKEN__SQL_COMMENT:
    case PG_QUERY__TOKEN__C_COMMENT:
    case PG_QUERY__TOKEN__ASCII_46:  // . qualified names and field selection are flat lists
    case PG_QUERY__TOKEN__NULL_P:
    case PG_QUERY__TOKEN__TRUE_P:
    case PG_QUERY__TOKEN__FALSE_P:
    case PG_QUERY__TOKEN__DEFAULT:
      return true;
    default:
      return false;
  }
}

struct ScanResultDeleter {
  void operator()(PgQuery__ScanResult* result) const {
    pg_query__scan_result__free_unpacked(result, nullptr);
  }
};

struct ThreadJob {
  const std::function<void()>* work;
  std::exception_ptr error;
};

void* run_job(void* argument) {
  auto* job = static_cast<ThreadJob*>(argument);
  try {
    (*job->work)();
  } catch (...) {
    job->error = std::current_exception();
  }
  return nullptr;
}

}  // namespace

std::size_t estimate_nesting(const std::string& text) {
  PgQueryScanResult scanned = pg_query_scan(text.c_str());
  if (scanned.error != nullptr) {
    pg_query_free_scan_result(scanned);
    return 0;
  }
  std::unique_ptr<PgQuery__ScanResult, ScanResultDeleter> tokens(pg_query__scan_result__unpack(
      nullptr, scanned.pbuf.len, reinterpret_cast<const uint8_t*>(scanned.pbuf.data)));
  pg_query_free_scan_result(scanned);
  if (tokens == nullptr) return text.size();  // cannot tell: assume the worst

  std::vector<Level> levels(1);
  std::size_t open = 0;  // sum of structural + operators over the open levels
  std::size_t bound = 0;
  auto pop = [&] {
    open -= levels.back().structural + levels.back().operators;
    levels.pop_back();
  };
  auto set_operators = [&](std::size_t value) {
    open = open - levels.back().operators + value;
    levels.back().operators = value;
  };
  for (std::size_t i = 0; i < tokens->n_tokens; ++i) {
    const PgQuery__Token token = tokens->tokens[i]->token;
    switch (token) {
      case PG_QUERY__TOKEN__ASCII_40:  // (
      case PG_QUERY__TOKEN__ASCII_91:  // [
        levels.push_back(Level{});
        break;
      case PG_QUERY__TOKEN__CASE:
        levels.push_back(Level{true, 1, 0});
        ++open;
        break;
      case PG_QUERY__TOKEN__ASCII_41:  // )
      case PG_QUERY__TOKEN__ASCII_93:  // ]
        while (levels.size() > 1 && levels.back().is_case) pop();
        if (levels.size() > 1) pop();
        break;
      case PG_QUERY__TOKEN__END_P:
        if (levels.size() > 1 && levels.back().is_case) pop();
        break;
      case PG_QUERY__TOKEN__ASCII_59:  // ; ends a statement
        levels.assign(1, Level{});
        open = 0;
        break;
      case PG_QUERY__TOKEN__ASCII_44:  // , list elements are siblings
        set_operators(0);
        break;
      case PG_QUERY__TOKEN__AND:
      case PG_QUERY__TOKEN__OR:
        // The lowest-precedence operators: every operator before them in this level is
        // closed; the grammar flattens AND/OR chains into one list (two levels when mixed).
        set_operators(2);
        break;
      case PG_QUERY__TOKEN__UNION:
      case PG_QUERY__TOKEN__INTERSECT:
      case PG_QUERY__TOKEN__EXCEPT:
      case PG_QUERY__TOKEN__JOIN:
      case PG_QUERY__TOKEN__BETWEEN:
        // Nesting that an AND, OR or comma does not close: left-deep set operations and
        // joins, BETWEEN's own AND.
        ++levels.back().structural;
        ++open;
        break;
      default:
        if (is_leaf(token)) break;
        set_operators(levels.back().operators + 1);
        break;
    }
    bound = std::max(bound, open + levels.size());
  }
  return bound;
}

bool run_with_stack(std::size_t stack_bytes, const std::function<void()>& work) {
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  stack_bytes = (std::max<std::size_t>(stack_bytes, PTHREAD_STACK_MIN) + page - 1) / page * page;
  pthread_attr_t attributes;
  if (pthread_attr_init(&attributes) != 0) return false;
  ThreadJob job{&work, nullptr};
  pthread_t thread;
  const bool started = pthread_attr_setstacksize(&attributes, stack_bytes) == 0 &&
                       pthread_create(&thread, &attributes, run_job, &job) == 0;
  pthread_attr_destroy(&attributes);
  if (!started) return false;
  pthread_join(thread, nullptr);
  if (job.error) std::rethrow_exception(job.error);
  return true;
}

namespace {

// Stack budget for parsing: libpg_query and protobuf-c use up to ~2 KB per nesting level in a
// release build, more under sanitizers, counted four times over. Statements whose bound fits
// kDirectLevels are parsed on the caller's stack (at most ~2 MB of it); deeper ones on a helper
// thread; beyond kMaxLevels (which PostgreSQL itself rejects with "stack depth limit exceeded")
// they are not parsed at all.
constexpr std::size_t kStackPerLevel = 8 * 1024;
constexpr std::size_t kStackBase = 1024 * 1024;
constexpr std::size_t kDirectLevels = 256;
constexpr std::size_t kLevelMargin = 16;
constexpr std::size_t kMaxLevels = 32 * 1024;

}  // namespace

ParseStack run_on_parse_stack(const std::string& text, const std::function<void()>& work) {
  // A token is at least one byte, so short texts need no scan to bound their nesting.
  const std::size_t levels =
      (text.size() <= kDirectLevels ? text.size() : estimate_nesting(text)) + kLevelMargin;
  if (levels <= kDirectLevels + kLevelMargin) {
    work();
    return ParseStack::ran;
  }
  if (levels > kMaxLevels) return ParseStack::too_deep;
  return run_with_stack(levels * kStackPerLevel + kStackBase, work) ? ParseStack::ran
                                                                    : ParseStack::no_thread;
}

}  // namespace pgdual::routing::detail
