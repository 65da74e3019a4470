#include "protocol/message_writer.hpp"

namespace pgdual::protocol {

MessageWriter::MessageWriter(std::string& out, char type) : out_(out) {
  if (type != 0) out_.push_back(type);
  length_offset_ = out_.size();
  out_.append(4, '\0');
}

MessageWriter::~MessageWriter() { finish(); }

MessageWriter& MessageWriter::int32(std::int32_t value) {
  const auto v = static_cast<std::uint32_t>(value);
  const char bytes[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                         static_cast<char>(v >> 8), static_cast<char>(v)};
  out_.append(bytes, 4);
  return *this;
}

MessageWriter& MessageWriter::int16(std::int16_t value) {
  const auto v = static_cast<std::uint16_t>(value);
  const char bytes[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
  out_.append(bytes, 2);
  return *this;
}

MessageWriter& MessageWriter::byte(std::uint8_t value) {
  out_.push_back(static_cast<char>(value));
  return *this;
}

MessageWriter& MessageWriter::cstring(std::string_view text) {
  // An embedded NUL would end the string early on the wire; cut there so the message stays
  // well-formed.
  const auto nul = text.find('\0');
  if (nul != std::string_view::npos) text = text.substr(0, nul);
  out_.append(text);
  out_.push_back('\0');
  return *this;
}

MessageWriter& MessageWriter::bytes(std::string_view data) {
  out_.append(data);
  return *this;
}

MessageWriter& MessageWriter::bytes(std::span<const std::uint8_t> data) {
  return bytes(as_string_view(data));
}

void MessageWriter::finish() {
  if (finished_) return;
  finished_ = true;
  const auto length = static_cast<std::uint32_t>(out_.size() - length_offset_);
  out_[length_offset_] = static_cast<char>(length >> 24);
  out_[length_offset_ + 1] = static_cast<char>(length >> 16);
  out_[length_offset_ + 2] = static_cast<char>(length >> 8);
  out_[length_offset_ + 3] = static_cast<char>(length);
}

}  // namespace pgdual::protocol
