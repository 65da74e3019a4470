#pragma once
// The closed sets of label values that pgdual's metrics use, as enums, so the
// hot path picks a pre-created series by index instead of building a label map.
// Each enum's values are contiguous from 0; k<Enum>Count is its size and
// to_string() its Prometheus label value.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pgdual::metrics {

// Which PostgreSQL a backend connection talks to. Which of the two is primary
// depends on the migration phase; the role does not.
enum class BackendRole : std::uint8_t { old_backend, new_backend };
inline constexpr std::size_t kBackendRoleCount = 2;

// What a statement does, as counted in pgdual_backend_queries_total{kind}.
enum class QueryKind : std::uint8_t { read, write, ddl, transaction, session, other, unknown };
inline constexpr std::size_t kQueryKindCount = 7;

// Why a client connection was refused (pgdual_client_connections_rejected_total{reason}).
enum class RejectReason : std::uint8_t {
  too_many_connections,
  auth_failed,
  startup_timeout,
  protocol_error,
  tls_required,
  shutting_down,
};
inline constexpr std::size_t kRejectReasonCount = 6;

// Bad client input, as counted in pgdual_protocol_errors_total{reason}.
enum class ProtocolErrorReason : std::uint8_t {
  oversize,
  bad_length,
  unknown_message,
  bad_startup,
  unsupported_version,
};
inline constexpr std::size_t kProtocolErrorReasonCount = 5;

// Which leg a TLS handshake was on (pgdual_tls_handshakes_total{side}).
enum class TlsSide : std::uint8_t { client, backend };
inline constexpr std::size_t kTlsSideCount = 2;

// pgdual_cancel_requests_total{result}.
enum class CancelResult : std::uint8_t { forwarded, unknown_key };
inline constexpr std::size_t kCancelResultCount = 2;

// Why a write did not reach the secondary (pgdual_secondary_failures_total{type}).
// rejected_by_secondary_only: the primary accepted it, the secondary refused it.
enum class SecondaryFailure : std::uint8_t { connect, timeout, error, rejected_by_secondary_only };
inline constexpr std::size_t kSecondaryFailureCount = 4;

// Where a statement was sent (pgdual_routing_decisions_total{decision}).
enum class RoutingDecision : std::uint8_t { old_only, new_only, both, shadow };
inline constexpr std::size_t kRoutingDecisionCount = 4;

namespace detail {
template <typename Enum, std::size_t N>
constexpr std::string_view label_of(Enum value, const std::array<std::string_view, N>& names) {
  const auto index = static_cast<std::size_t>(value);
  return index < N ? names[index] : std::string_view{"invalid"};
}
}  // namespace detail

constexpr std::string_view to_string(BackendRole value) {
  return detail::label_of(value, std::array<std::string_view, kBackendRoleCount>{"old", "new"});
}
constexpr std::string_view to_string(QueryKind value) {
  return detail::label_of(
      value, std::array<std::string_view, kQueryKindCount>{"read", "write", "ddl", "transaction",
                                                           "session", "other", "unknown"});
}
constexpr std::string_view to_string(RejectReason value) {
  return detail::label_of(value, std::array<std::string_view, kRejectReasonCount>{
                                     "too_many_connections", "auth_failed", "startup_timeout",
                                     "protocol_error", "tls_required", "shutting_down"});
}
constexpr std::string_view to_string(ProtocolErrorReason value) {
  return detail::label_of(value, std::array<std::string_view, kProtocolErrorReasonCount>{
                                     "oversize", "bad_length", "unknown_message", "bad_startup",
                                     "unsupported_version"});
}
constexpr std::string_view to_string(TlsSide value) {
  return detail::label_of(value, std::array<std::string_view, kTlsSideCount>{"client", "backend"});
}
constexpr std::string_view to_string(CancelResult value) {
  return detail::label_of(
      value, std::array<std::string_view, kCancelResultCount>{"forwarded", "unknown_key"});
}
constexpr std::string_view to_string(SecondaryFailure value) {
  return detail::label_of(value, std::array<std::string_view, kSecondaryFailureCount>{
                                     "connect", "timeout", "error", "rejected_by_secondary_only"});
}
constexpr std::string_view to_string(RoutingDecision value) {
  return detail::label_of(value, std::array<std::string_view, kRoutingDecisionCount>{
                                     "old_only", "new_only", "both", "shadow"});
}

}  // namespace pgdual::metrics
