#include "proxy/session/classifier_context.hpp"

namespace pgdual::proxy {

namespace {
bool same_options(const routing::ClassifierOptions& a, const routing::ClassifierOptions& b) {
  return a.write_functions == b.write_functions && a.read_only_functions == b.read_only_functions;
}
}  // namespace

routing::ClassificationCache& worker_classification_cache(const RuntimeConfig& config) {
  thread_local routing::ClassificationCache cache;
  thread_local routing::ClassifierOptions options_in_cache;
  if (!same_options(options_in_cache, config.classifier_options)) {
    cache.clear();
    options_in_cache = config.classifier_options;
  }
  return cache;
}

}  // namespace pgdual::proxy
