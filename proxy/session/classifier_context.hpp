#pragma once
// One statement-classification cache per worker thread: sessions on a worker
// share it without locks, and a reload that changes the classifier options
// (migration.write_functions / read_only_functions) empties it.

#include "proxy/server/runtime.hpp"
#include "routing/classify/classification_cache.hpp"

namespace pgdual::proxy {

routing::ClassificationCache& worker_classification_cache(const RuntimeConfig& config);

}  // namespace pgdual::proxy
