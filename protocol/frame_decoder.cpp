#include "protocol/frame_decoder.hpp"

#include <cstdio>

#include "protocol/constants.hpp"

namespace pgdual::protocol {
namespace {

std::uint32_t read_be32(const std::uint8_t* p) {
  return (static_cast<std::uint32_t>(p[0]) << 24) | (static_cast<std::uint32_t>(p[1]) << 16) |
         (static_cast<std::uint32_t>(p[2]) << 8) | static_cast<std::uint32_t>(p[3]);
}

DecodeResult need_more() { return DecodeResult{DecodeStatus::need_more, Frame{}, {}}; }

DecodeResult fail(std::string message) {
  return DecodeResult{DecodeStatus::error, Frame{}, std::move(message)};
}

std::string describe_type(char type) {
  char text[48];
  const auto byte = static_cast<unsigned char>(type);
  if (byte >= 0x20 && byte < 0x7f) {
    std::snprintf(text, sizeof text, "invalid frontend message type %u ('%c')", byte, type);
  } else {
    std::snprintf(text, sizeof text, "invalid frontend message type %u", byte);
  }
  return text;
}

// Startup-phase packets have no type byte. PostgreSQL (ProcessStartupPacket) refuses lengths
// outside [8, MAX_STARTUP_PACKET_LENGTH] before reading the body.
DecodeResult decode_startup_frame(std::span<const std::uint8_t> buffer) {
  if (buffer.size() < kLengthWordSize) return need_more();
  const std::uint32_t length = read_be32(buffer.data());
  if (length < kMinStartupPacketLength || length > kMaxStartupPacketLength) {
    // Print as signed: a negative length word is what a confused client most likely sent.
    return fail(
        "invalid length of startup packet: " + std::to_string(static_cast<std::int32_t>(length)) +
        " bytes (must be " + std::to_string(kMinStartupPacketLength) + " to " +
        std::to_string(kMaxStartupPacketLength) + ")");
  }
  if (buffer.size() < length) return need_more();
  Frame frame;
  frame.type = 0;
  frame.payload = buffer.subspan(kLengthWordSize, length - kLengthWordSize);
  frame.size = length;
  return DecodeResult{DecodeStatus::ready, frame, {}};
}

DecodeResult decode_regular_frame(std::span<const std::uint8_t> buffer,
                                  std::size_t max_message_size, bool check_frontend_type) {
  if (buffer.empty()) return need_more();
  const char type = static_cast<char>(buffer[0]);
  // The type byte alone is enough to reject garbage; no need to wait for the length word.
  if (check_frontend_type && !is_known_frontend_type(type)) return fail(describe_type(type));
  if (buffer.size() < kMessageHeaderSize) return need_more();

  const std::uint32_t length = read_be32(buffer.data() + 1);
  if (length > static_cast<std::uint32_t>(INT32_MAX)) {
    return fail("invalid message length " + std::to_string(static_cast<std::int32_t>(length)));
  }
  if (length < kLengthWordSize) return fail("invalid message length " + std::to_string(length));
  if (length > max_message_size) {
    return fail("message of " + std::to_string(length) + " bytes exceeds max_message_size " +
                std::to_string(max_message_size));
  }
  const std::size_t frame_size = std::size_t{1} + length;
  if (buffer.size() < frame_size) return need_more();
  Frame frame;
  frame.type = type;
  frame.payload = buffer.subspan(kMessageHeaderSize, length - kLengthWordSize);
  frame.size = frame_size;
  return DecodeResult{DecodeStatus::ready, frame, {}};
}

}  // namespace

DecodeResult decode_frame(std::span<const std::uint8_t> buffer, bool startup_phase,
                          std::size_t max_message_size, bool check_frontend_type) {
  if (startup_phase) return decode_startup_frame(buffer);
  return decode_regular_frame(buffer, max_message_size, check_frontend_type);
}

}  // namespace pgdual::protocol
