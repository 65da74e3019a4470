#pragma once
// Small helpers shared by the relay's files (session_*.cpp).

#include <chrono>
#include <cstdint>
#include <span>
#include <string_view>

#include "protocol/constants.hpp"
#include "protocol/frame_decoder.hpp"
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

// Calls `each` for every whole frame in `bytes` (frontend messages pgdual built or relayed, so
// they are well formed).
template <typename Each>
void for_each_frame(std::string_view bytes, Each&& each) {
  std::size_t offset = 0;
  while (offset < bytes.size()) {
    std::span<const std::uint8_t> rest(reinterpret_cast<const std::uint8_t*>(bytes.data()) + offset,
                                       bytes.size() - offset);
    auto decoded = protocol::decode_frame(rest, false, std::size_t{1} << 30);
    if (decoded.status != protocol::DecodeStatus::ready) return;
    each(decoded.frame);
    offset += decoded.frame.size;
  }
}

}  // namespace pgdual::proxy
