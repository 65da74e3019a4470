#include "routing/parse_guard.hpp"

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

bool is_uncounted(PgQuery__Token token) {
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
    case PG_QUERY__TOKEN__AND:
    case PG_QUERY__TOKEN__OR: return true;
    default: return false;
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

  std::vector<std::size_t> counts{0};  // tokens since the last comma, per open parenthesis
  std::size_t sum = 0;                 // sum of counts
  std::size_t bound = 0;
  for (std::size_t i = 0; i < tokens->n_tokens; ++i) {
    const PgQuery__Token token = tokens->tokens[i]->token;
    switch (token) {
      case PG_QUERY__TOKEN__ASCII_40:  // (
      case PG_QUERY__TOKEN__ASCII_91:  // [
        counts.push_back(0);
        break;
      case PG_QUERY__TOKEN__ASCII_41:  // )
      case PG_QUERY__TOKEN__ASCII_93:  // ]
        if (counts.size() > 1) {
          sum -= counts.back();
          counts.pop_back();
        }
        break;
      case PG_QUERY__TOKEN__ASCII_44:  // ,
        sum -= counts.back();
        counts.back() = 0;
        break;
      case PG_QUERY__TOKEN__ASCII_59:  // ; ends a statement
        counts.assign(1, 0);
        sum = 0;
        break;
      default:
        if (is_uncounted(token)) break;
        ++counts.back();
        ++sum;
        break;
    }
    bound = std::max(bound, sum + counts.size());
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

}  // namespace pgdual::routing::detail
