#pragma once
// Small helpers shared by the relay's files (session_*.cpp).

#include <chrono>
#include <string_view>

#include "protocol/constants.hpp"
#include "protocol/messages.hpp"

namespace pgdual::proxy {

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A regular frame is its type byte and length word followed by the payload.
inline std::string_view raw_frame(const protocol::Frame& frame) {
  return {reinterpret_cast<const char*>(frame.payload.data()) - protocol::kMessageHeaderSize,
          frame.size};
}

}  // namespace pgdual::proxy
