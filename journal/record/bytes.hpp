#pragma once
// Little-endian writing and bounds-checked reading of the replay journal's
// byte forms (records, file frames). The journal is a local, versioned format,
// so it uses the host-independent little-endian order throughout rather than
// the protocol's network order. ByteReader checks every length against what
// remains before it reads or lets the caller allocate, so corrupt input can
// neither read out of bounds nor make a huge allocation.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgdual::journal::bytes {

inline void put_u8(std::string& out, std::uint8_t value) {
  out.push_back(static_cast<char>(value));
}

inline void put_u32(std::string& out, std::uint32_t value) {
  for (int shift = 0; shift < 32; shift += 8)
    put_u8(out, static_cast<std::uint8_t>(value >> shift));
}

inline void put_u64(std::string& out, std::uint64_t value) {
  for (int shift = 0; shift < 64; shift += 8)
    put_u8(out, static_cast<std::uint8_t>(value >> shift));
}

inline std::uint32_t get_u32(std::string_view bytes) {  // bytes.size() >= 4
  std::uint32_t value = 0;
  for (int i = 3; i >= 0; --i) value = (value << 8) | static_cast<std::uint8_t>(bytes[i]);
  return value;
}

class ByteReader {
 public:
  explicit ByteReader(std::string_view data) : data_(data) {}

  std::optional<std::uint8_t> u8() {
    if (remaining() < 1) return std::nullopt;
    return static_cast<std::uint8_t>(data_[offset_++]);
  }
  std::optional<std::uint32_t> u32() {
    if (remaining() < 4) return std::nullopt;
    const std::uint32_t value = get_u32(data_.substr(offset_, 4));
    offset_ += 4;
    return value;
  }
  std::optional<std::uint64_t> u64() {
    auto low = u32();
    auto high = low ? u32() : std::nullopt;
    if (!high) return std::nullopt;
    return (std::uint64_t{*high} << 32) | *low;
  }
  // A u32 length, then that many bytes.
  std::optional<std::string_view> text() {
    auto length = u32();
    if (!length || *length > remaining()) return std::nullopt;
    auto out = data_.substr(offset_, *length);
    offset_ += *length;
    return out;
  }
  // A u32 element count, refused when even `min_element_size` bytes per
  // element would not fit in what remains (so reserve(count) is safe).
  std::optional<std::uint32_t> count(std::size_t min_element_size) {
    auto value = u32();
    if (!value || *value > remaining() / min_element_size) return std::nullopt;
    return value;
  }

  std::size_t remaining() const { return data_.size() - offset_; }
  bool at_end() const { return offset_ == data_.size(); }

 private:
  std::string_view data_;
  std::size_t offset_ = 0;
};

}  // namespace pgdual::journal::bytes
