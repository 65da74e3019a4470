#pragma once

#include <memory>
#include <string>

#include "proxy/shadow/result_capture.hpp"

namespace pgdual::proxy {

// A shadowed read until both stores have answered (session_shadow.cpp).
struct ShadowRead {
  std::shared_ptr<shadow::ResultCapture> primary, secondary;
  std::string table;  // the first table it reads, for metrics and logs
  std::string text;
  bool ordered = false;
  bool aa = false;  // the other side is the primary itself
  bool primary_done = false, secondary_done = false, timed_out = false;
  double primary_seconds = 0, secondary_seconds = 0;
};

}  // namespace pgdual::proxy
