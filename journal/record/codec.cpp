// encode/decode of a JournalRecord. A record must survive a crash mid-write
// and bit rot on disk, and must be readable by a newer pgdual, so the form is
// versioned (first byte), the body's length is stated up front, and a
// CRC-32C over everything before it ends the record: a torn or corrupted
// record fails to decode instead of replaying something the client never
// sent. The body repeats the field order of JournalRecord; see
// journal_record.hpp for the envelope.

#include <limits>

#include "journal/record/bytes.hpp"
#include "journal/record/crc32c.hpp"
#include "journal/record/record.hpp"

namespace pgdual::journal {

namespace {

using namespace bytes;

constexpr std::size_t kEnvelopeHead = 1 + 4;  // version, body length
constexpr std::size_t kEnvelopeTail = 4;      // CRC-32C
constexpr std::uint32_t kMaxField = std::numeric_limits<std::uint32_t>::max();
// Smallest encodings, for ByteReader::count: a string is its u32 length; a
// parameter is oid, format and null flag; a statement is its sql length, its
// parameter count and its copy flag.
constexpr std::size_t kMinText = 4, kMinParam = 4 + 1 + 1, kMinStatement = 4 + 4 + 1;

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void text(std::string_view value) {
    if (value.size() > kMaxField) {
      too_large_ = true;
      return;
    }
    put_u32(out_, static_cast<std::uint32_t>(value.size()));
    out_.append(value);
  }
  void count(std::size_t value) {
    if (value > kMaxField) too_large_ = true;
    put_u32(out_, static_cast<std::uint32_t>(value));
  }
  void texts(const std::vector<std::string>& values) {
    count(values.size());
    for (const auto& value : values) text(value);
  }
  bool too_large() const { return too_large_; }

 private:
  std::string& out_;
  bool too_large_ = false;
};

void encode_statement(std::string& out, Writer& writer, const JournalStatement& statement) {
  writer.text(statement.sql);
  const std::size_t count = statement.param_values.size();
  writer.count(count);
  for (std::size_t i = 0; i < count; ++i) {
    // Short type or format lists are read as "0 / text" for the missing ones.
    const TypeOid oid = i < statement.param_type_oids.size() ? statement.param_type_oids[i] : 0;
    const ParamFormat format =
        i < statement.param_formats.size() ? statement.param_formats[i] : ParamFormat::text;
    put_u32(out, oid);
    put_u8(out, static_cast<std::uint8_t>(format));
    const auto& value = statement.param_values[i];
    put_u8(out, value ? 0 : 1);  // 1 = SQL NULL
    if (value) writer.text(*value);
  }
  put_u8(out, statement.copy_data ? 1 : 0);
  if (statement.copy_data) writer.text(*statement.copy_data);
}

// Reads a 0/1 flag; anything else is corruption.
std::optional<bool> flag(ByteReader& reader) {
  auto value = reader.u8();
  if (!value || *value > 1) return std::nullopt;
  return *value == 1;
}

bool decode_texts(ByteReader& reader, std::vector<std::string>& out) {
  auto count = reader.count(kMinText);
  if (!count) return false;
  out.reserve(*count);
  for (std::uint32_t i = 0; i < *count; ++i) {
    auto value = reader.text();
    if (!value) return false;
    out.emplace_back(*value);
  }
  return true;
}

bool decode_statement(ByteReader& reader, JournalStatement& statement) {
  auto sql = reader.text();
  auto count = sql ? reader.count(kMinParam) : std::nullopt;
  if (!count) return false;
  statement.sql = std::string(*sql);
  statement.param_type_oids.reserve(*count);
  statement.param_formats.reserve(*count);
  statement.param_values.reserve(*count);
  for (std::uint32_t i = 0; i < *count; ++i) {
    auto oid = reader.u32();
    auto binary = oid ? flag(reader) : std::nullopt;
    auto is_null = binary ? flag(reader) : std::nullopt;
    if (!is_null) return false;
    statement.param_type_oids.push_back(*oid);
    statement.param_formats.push_back(*binary ? ParamFormat::binary : ParamFormat::text);
    if (*is_null) {
      statement.param_values.emplace_back(std::nullopt);
      continue;
    }
    auto value = reader.text();
    if (!value) return false;
    statement.param_values.emplace_back(std::string(*value));
  }
  auto has_copy = flag(reader);
  if (!has_copy) return false;
  if (*has_copy) {
    auto copy = reader.text();
    if (!copy) return false;
    statement.copy_data = std::string(*copy);
  }
  return true;
}

std::optional<JournalRecord> decode_body(std::string_view body) {
  ByteReader reader(body);
  JournalRecord record;
  auto id = reader.u64();
  auto instance = id ? reader.text() : std::nullopt;
  auto session = instance ? reader.u32() : std::nullopt;
  auto created = session ? reader.u64() : std::nullopt;
  auto reason = created ? reader.text() : std::nullopt;
  auto sqlstate = reason ? reader.text() : std::nullopt;
  auto attempts = sqlstate ? reader.u32() : std::nullopt;
  auto last_error = attempts ? reader.text() : std::nullopt;
  auto database = last_error ? reader.text() : std::nullopt;
  auto marker = database ? reader.text() : std::nullopt;
  if (!marker) return std::nullopt;
  record.id = *id;
  record.instance = std::string(*instance);
  record.session = static_cast<std::int32_t>(*session);
  const std::chrono::nanoseconds since_epoch(static_cast<std::int64_t>(*created));
  record.created_at = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(since_epoch));
  record.reason = std::string(*reason);
  record.sqlstate = std::string(*sqlstate);
  record.attempts = *attempts;
  record.last_error = std::string(*last_error);
  record.database = std::string(*database);
  record.marker = std::string(*marker);
  if (!decode_texts(reader, record.session_state) || !decode_texts(reader, record.tables)) {
    return std::nullopt;
  }
  auto statements = reader.count(kMinStatement);
  if (!statements) return std::nullopt;
  record.statements.resize(*statements);
  for (auto& statement : record.statements) {
    if (!decode_statement(reader, statement)) return std::nullopt;
  }
  if (!reader.at_end()) return std::nullopt;
  return record;
}

}  // namespace

std::string encode(const JournalRecord& record) {
  std::string out;
  out.reserve(kEnvelopeHead + 64 + payload_size(record) + kEnvelopeTail);
  put_u8(out, kJournalFormatVersion);
  put_u32(out, 0);  // body length, patched below
  Writer writer(out);
  put_u64(out, record.id);
  writer.text(record.instance);
  put_u32(out, static_cast<std::uint32_t>(record.session));
  const auto since_epoch =
      std::chrono::duration_cast<std::chrono::nanoseconds>(record.created_at.time_since_epoch());
  put_u64(out, static_cast<std::uint64_t>(since_epoch.count()));
  writer.text(record.reason);
  writer.text(record.sqlstate);
  put_u32(out, record.attempts);
  writer.text(record.last_error);
  writer.text(record.database);
  writer.text(record.marker);
  writer.texts(record.session_state);
  writer.texts(record.tables);
  writer.count(record.statements.size());
  for (const auto& statement : record.statements) encode_statement(out, writer, statement);
  const std::size_t body_length = out.size() - kEnvelopeHead;
  if (writer.too_large() || body_length > kMaxField) return {};
  std::string length;
  put_u32(length, static_cast<std::uint32_t>(body_length));
  out.replace(1, 4, length);
  put_u32(out, crc32c(out));
  return out;
}

std::optional<JournalRecord> decode(std::string_view bytes) {
  if (bytes.size() < kEnvelopeHead + kEnvelopeTail) return std::nullopt;
  if (static_cast<std::uint8_t>(bytes[0]) != kJournalFormatVersion) return std::nullopt;
  const std::uint32_t body_length = get_u32(bytes.substr(1, 4));
  if (body_length != bytes.size() - kEnvelopeHead - kEnvelopeTail) return std::nullopt;
  const std::string_view checked = bytes.substr(0, kEnvelopeHead + body_length);
  if (crc32c(checked) != get_u32(bytes.substr(checked.size()))) return std::nullopt;
  return decode_body(bytes.substr(kEnvelopeHead, body_length));
}

}  // namespace pgdual::journal
