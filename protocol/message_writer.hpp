#pragma once
// MessageWriter, which every builder of protocol/frontend_messages.hpp and
// protocol/backend_messages.hpp writes through, and the byte/text views parsers and builders share.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace pgdual::protocol {

// Writes one message into `out`: the constructor emits the type byte (none for startup-phase
// packets) and a placeholder length, finish() patches the length in. Helpers for other builders
// (SCRAM, COPY) that need a message shape not listed below.
class MessageWriter {
 public:
  // type == 0 writes a startup-phase packet (no type byte).
  MessageWriter(std::string& out, char type);
  MessageWriter(const MessageWriter&) = delete;
  MessageWriter& operator=(const MessageWriter&) = delete;
  ~MessageWriter();

  MessageWriter& int32(std::int32_t value);
  MessageWriter& int16(std::int16_t value);
  MessageWriter& byte(std::uint8_t value);
  MessageWriter& cstring(std::string_view text);  // appends text and a NUL
  MessageWriter& bytes(std::string_view data);
  MessageWriter& bytes(std::span<const std::uint8_t> data);
  // Patches the length word; called by the destructor if not called before.
  void finish();

 private:
  std::string& out_;
  std::size_t length_offset_;
  bool finished_ = false;
};

// Views a byte span as text (for payloads such as SASLResponse or CopyData).
inline std::string_view as_string_view(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}
inline std::span<const std::uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

}  // namespace pgdual::protocol
