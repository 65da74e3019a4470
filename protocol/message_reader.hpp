#pragma once

// A cursor over one message payload. Every read checks the remaining length first and returns
// std::nullopt instead of reading past the end, so parsers of untrusted bytes can be written as a
// straight sequence of reads. Integers are in network byte order, as everywhere in the protocol.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>

namespace pgdual::protocol {

class MessageReader {
 public:
  explicit MessageReader(std::span<const std::uint8_t> data) : data_(data) {}

  std::optional<std::int32_t> int32() {
    auto value = uint32();
    if (!value) return std::nullopt;
    return static_cast<std::int32_t>(*value);
  }

  std::optional<std::uint32_t> uint32() {
    if (remaining() < 4) return std::nullopt;
    const std::uint8_t* p = data_.data() + offset_;
    offset_ += 4;
    return (static_cast<std::uint32_t>(p[0]) << 24) | (static_cast<std::uint32_t>(p[1]) << 16) |
           (static_cast<std::uint32_t>(p[2]) << 8) | static_cast<std::uint32_t>(p[3]);
  }

  std::optional<std::int16_t> int16() {
    if (remaining() < 2) return std::nullopt;
    const std::uint8_t* p = data_.data() + offset_;
    offset_ += 2;
    return static_cast<std::int16_t>(
        static_cast<std::uint16_t>((static_cast<unsigned>(p[0]) << 8) | p[1]));
  }

  std::optional<std::uint8_t> byte() {
    if (remaining() < 1) return std::nullopt;
    return data_[offset_++];
  }

  // A NUL-terminated string; the view excludes the terminator, which is consumed. Fails (and
  // consumes nothing) when no NUL occurs before the end.
  std::optional<std::string_view> cstring() {
    const std::size_t left = remaining();
    if (left == 0) return std::nullopt;
    const std::uint8_t* start = data_.data() + offset_;
    const void* nul = std::memchr(start, 0, left);
    if (nul == nullptr) return std::nullopt;
    const std::size_t length =
        static_cast<std::size_t>(static_cast<const std::uint8_t*>(nul) - start);
    offset_ += length + 1;
    return std::string_view(reinterpret_cast<const char*>(start), length);
  }

  std::optional<std::span<const std::uint8_t>> bytes(std::size_t n) {
    if (n > remaining()) return std::nullopt;
    auto out = data_.subspan(offset_, n);
    offset_ += n;
    return out;
  }

  // Everything not read yet; consumes it.
  std::span<const std::uint8_t> rest() {
    auto out = data_.subspan(offset_);
    offset_ = data_.size();
    return out;
  }

  std::size_t remaining() const { return data_.size() - offset_; }
  bool at_end() const { return offset_ == data_.size(); }
  std::size_t offset() const { return offset_; }

 private:
  std::span<const std::uint8_t> data_;
  std::size_t offset_ = 0;
};

}  // namespace pgdual::protocol
