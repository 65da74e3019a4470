#pragma once

// Named numbers of the PostgreSQL frontend/backend protocol, version 3.0.
// Reference: PostgreSQL documentation, chapter "Frontend/Backend Protocol",
// sections "Message Flow" and "Message Formats" (protocol-message-formats.html).

#include <cstddef>
#include <cstdint>

namespace pgdual::protocol {

// Protocol version numbers are (major << 16) | minor ("Message Formats", StartupMessage).
constexpr std::int32_t make_protocol_version(int major, int minor) {
  return static_cast<std::int32_t>((static_cast<std::uint32_t>(major) << 16) |
                                   static_cast<std::uint32_t>(minor));
}
constexpr int protocol_major(std::int32_t version) {
  return static_cast<int>(static_cast<std::uint32_t>(version) >> 16);
}
constexpr int protocol_minor(std::int32_t version) {
  return static_cast<int>(static_cast<std::uint32_t>(version) & 0xFFFFu);
}

// StartupMessage protocol version 3.0 = 196608.
constexpr std::int32_t kProtocolVersion3 = make_protocol_version(3, 0);
static_assert(kProtocolVersion3 == 196608);

// Special "protocol version" codes carried where a StartupMessage carries its version
// ("Message Formats": SSLRequest, GSSENCRequest, CancelRequest). They were chosen to never be a
// real version: 1234 in the major half and 5678/5679/5680 in the minor half.
constexpr std::int32_t kCancelRequestCode = 80877102;  // (1234 << 16) | 5678
constexpr std::int32_t kSslRequestCode = 80877103;     // (1234 << 16) | 5679
constexpr std::int32_t kGssEncRequestCode = 80877104;  // (1234 << 16) | 5680
static_assert(kCancelRequestCode == make_protocol_version(1234, 5678));
static_assert(kSslRequestCode == make_protocol_version(1234, 5679));
static_assert(kGssEncRequestCode == make_protocol_version(1234, 5680));

// Whole-packet lengths (length word included) of the fixed-size startup-phase requests.
constexpr std::size_t kSslRequestLength = 8;      // int32 len, int32 code
constexpr std::size_t kGssEncRequestLength = 8;   // int32 len, int32 code
constexpr std::size_t kCancelRequestLength = 16;  // int32 len, int32 code, int32 pid, int32 key

// PostgreSQL refuses startup packets longer than this (MAX_STARTUP_PACKET_LENGTH in
// src/include/libpq/pqcomm.h), whatever the configured message limit.
constexpr std::size_t kMaxStartupPacketLength = 10000;
// The shortest startup-phase packet: the length word plus the version or request code.
constexpr std::size_t kMinStartupPacketLength = 8;

// Regular messages: Byte1 type, then Int32 length that counts itself but not the type byte.
constexpr std::size_t kMessageHeaderSize = 5;
constexpr std::size_t kLengthWordSize = 4;

// Message type bytes sent by the client ("Message Formats", messages marked (F)).
namespace frontend {
constexpr char kQuery = 'Q';
constexpr char kParse = 'P';
constexpr char kBind = 'B';
constexpr char kDescribe = 'D';
constexpr char kExecute = 'E';
constexpr char kClose = 'C';
constexpr char kFlush = 'H';
constexpr char kSync = 'S';
constexpr char kTerminate = 'X';
constexpr char kCopyData = 'd';
constexpr char kCopyDone = 'c';
constexpr char kCopyFail = 'f';
constexpr char kFunctionCall = 'F';
// PasswordMessage, SASLInitialResponse, SASLResponse and GSSResponse all share 'p'; which one it
// is follows from the authentication request the server sent last.
constexpr char kPassword = 'p';
}  // namespace frontend

// Message type bytes sent by the server ("Message Formats", messages marked (B)).
namespace backend {
constexpr char kAuthentication = 'R';
constexpr char kBackendKeyData = 'K';
constexpr char kParameterStatus = 'S';
constexpr char kReadyForQuery = 'Z';
constexpr char kRowDescription = 'T';
constexpr char kDataRow = 'D';
constexpr char kCommandComplete = 'C';
constexpr char kEmptyQuery = 'I';
constexpr char kErrorResponse = 'E';
constexpr char kNoticeResponse = 'N';
constexpr char kNotification = 'A';
constexpr char kParseComplete = '1';
constexpr char kBindComplete = '2';
constexpr char kCloseComplete = '3';
constexpr char kNoData = 'n';
constexpr char kParameterDescription = 't';
constexpr char kPortalSuspended = 's';
constexpr char kCopyInResponse = 'G';
constexpr char kCopyOutResponse = 'H';
constexpr char kCopyBothResponse = 'W';
constexpr char kCopyData = 'd';
constexpr char kCopyDone = 'c';
constexpr char kFunctionCallResponse = 'V';
constexpr char kNegotiateProtocolVersion = 'v';
}  // namespace backend

// Int32 request code at the start of an Authentication ('R') message ("Message Formats",
// AuthenticationOk ... AuthenticationSASLFinal). Codes 2 (Kerberos V5), 7/8 (GSSAPI) and 9 (SSPI)
// exist too; pgdual does not offer them.
namespace auth {
constexpr std::int32_t kOk = 0;
constexpr std::int32_t kCleartextPassword = 3;
constexpr std::int32_t kMd5Password = 5;
constexpr std::int32_t kSasl = 10;
constexpr std::int32_t kSaslContinue = 11;
constexpr std::int32_t kSaslFinal = 12;
}  // namespace auth

// ReadyForQuery transaction status indicator ("Message Formats", ReadyForQuery).
namespace txn_status {
constexpr char kIdle = 'I';
constexpr char kInTransaction = 'T';
constexpr char kFailed = 'E';
}  // namespace txn_status

// The same indicator as a type, for state that holds it: the byte is the enumerator's value, so
// the conversions below never change what goes on the wire.
enum class TxnStatus : char {
  idle = txn_status::kIdle,
  in_transaction = txn_status::kInTransaction,
  failed = txn_status::kFailed,
};
constexpr char to_byte(TxnStatus status) { return static_cast<char>(status); }
// `byte` must be one of the three indicators (parse_ready_for_query refuses others).
constexpr TxnStatus txn_status_from_byte(char byte) { return static_cast<TxnStatus>(byte); }

// Field codes of ErrorResponse/NoticeResponse ("Error and Notice Message Fields").
namespace error_field {
constexpr char kSeverity = 'S';     // localized severity
constexpr char kSeverityRaw = 'V';  // severity, never localized (9.6+)
constexpr char kSqlState = 'C';
constexpr char kMessage = 'M';
constexpr char kDetail = 'D';
constexpr char kHint = 'H';
constexpr char kPosition = 'P';
constexpr char kInternalPosition = 'p';
constexpr char kInternalQuery = 'q';
constexpr char kWhere = 'W';
constexpr char kSchema = 's';
constexpr char kTable = 't';
constexpr char kColumn = 'c';
constexpr char kDataType = 'd';
constexpr char kConstraint = 'n';
constexpr char kFile = 'F';
constexpr char kLine = 'L';
constexpr char kRoutine = 'R';
}  // namespace error_field

// Close and Describe target a prepared statement ('S') or a portal ('P').
constexpr char kTargetStatement = 'S';
constexpr char kTargetPortal = 'P';

// True for every type byte a client may send after the startup phase.
constexpr bool is_known_frontend_type(char type) {
  switch (type) {
    case frontend::kQuery:
    case frontend::kParse:
    case frontend::kBind:
    case frontend::kDescribe:
    case frontend::kExecute:
    case frontend::kClose:
    case frontend::kFlush:
    case frontend::kSync:
    case frontend::kTerminate:
    case frontend::kCopyData:
    case frontend::kCopyDone:
    case frontend::kCopyFail:
    case frontend::kFunctionCall:
    case frontend::kPassword:
      return true;
    default:
      return false;
  }
}

// True for every type byte a server may send.
constexpr bool is_known_backend_type(char type) {
  switch (type) {
    case backend::kAuthentication:
    case backend::kBackendKeyData:
    case backend::kParameterStatus:
    case backend::kReadyForQuery:
    case backend::kRowDescription:
    case backend::kDataRow:
    case backend::kCommandComplete:
    case backend::kEmptyQuery:
    case backend::kErrorResponse:
    case backend::kNoticeResponse:
    case backend::kNotification:
    case backend::kParseComplete:
    case backend::kBindComplete:
    case backend::kCloseComplete:
    case backend::kNoData:
    case backend::kParameterDescription:
    case backend::kPortalSuspended:
    case backend::kCopyInResponse:
    case backend::kCopyOutResponse:
    case backend::kCopyBothResponse:
    case backend::kCopyData:
    case backend::kCopyDone:
    case backend::kFunctionCallResponse:
    case backend::kNegotiateProtocolVersion:
      return true;
    default:
      return false;
  }
}

}  // namespace pgdual::protocol
