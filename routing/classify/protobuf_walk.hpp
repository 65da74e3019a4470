#pragma once
// Internal to routing/: a generic step through a libpg_query protobuf-c tree. Rather than listing
// the ~250 node types, it follows every message-typed field through protobuf-c's reflection
// (each message carries its descriptor). Used by the classifier's walk (read-only) and by the
// rewrite (which changes the nodes it reaches).

#include <pg_query/pg_query.pb-c.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

namespace pgdual::routing::detail {

template <class T>
T member_at(const ProtobufCMessage* message, unsigned offset) {
  T value;
  std::memcpy(&value, reinterpret_cast<const char*>(message) + offset, sizeof value);
  return value;
}

// Calls visit(field, child) for every message-typed child of `message`, in field order.
// `Message` is ProtobufCMessage or const ProtobufCMessage; children come with the same constness.
template <class Message, class Visit>
void for_each_child(Message* message, Visit&& visit) {
  using Child = Message*;
  const ProtobufCMessageDescriptor* descriptor = message->descriptor;
  if (descriptor == &pg_query__node__descriptor) {
    // Node is one big oneof: go straight to its set member.
    const auto* node = reinterpret_cast<const PgQuery__Node*>(message);
    if (node->node_case == PG_QUERY__NODE__NODE__NOT_SET) return;
    const ProtobufCFieldDescriptor* field =
        protobuf_c_message_descriptor_get_field(descriptor, node->node_case);
    if (field == nullptr || field->type != PROTOBUF_C_TYPE_MESSAGE) return;
    if (Child child = member_at<Child>(message, field->offset)) visit(*field, child);
    return;
  }
  for (unsigned i = 0; i < descriptor->n_fields; ++i) {
    const ProtobufCFieldDescriptor& field = descriptor->fields[i];
    if (field.type != PROTOBUF_C_TYPE_MESSAGE) continue;
    if (field.label == PROTOBUF_C_LABEL_REPEATED) {
      const auto count = member_at<std::size_t>(message, field.quantifier_offset);
      auto* const* items = member_at<ProtobufCMessage* const*>(message, field.offset);
      for (std::size_t k = 0; k < count; ++k) {
        if (items[k] != nullptr) visit(field, static_cast<Child>(items[k]));
      }
      continue;
    }
    if ((field.flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0 &&
        member_at<std::uint32_t>(message, field.quantifier_offset) != field.id) {
      continue;
    }
    if (Child child = member_at<Child>(message, field.offset)) visit(field, child);
  }
}

}  // namespace pgdual::routing::detail
