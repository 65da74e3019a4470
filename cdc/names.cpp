#include "cdc/names.hpp"

#include <cstdint>
#include <cstdio>

namespace pgdual::cdc {
namespace {

// FNV-1a: stable across builds and platforms, which std::hash is not.
std::uint32_t stable_hash(std::string_view text) {
  std::uint32_t hash = 2166136261u;
  for (unsigned char ch : text) {
    hash ^= ch;
    hash *= 16777619u;
  }
  return hash;
}

constexpr std::size_t kMaxName = 63;
constexpr std::size_t kReverseSuffix = 4;  // "_rev"
constexpr std::size_t kHashPart = 9;       // "_" + 8 hex digits

}  // namespace

ReplicationNames names_for(std::string_view database) {
  std::string folded;
  bool changed = false;
  for (char ch : database) {
    const bool plain = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
    if (plain) {
      folded.push_back(ch);
    } else if (ch >= 'A' && ch <= 'Z') {
      folded.push_back(static_cast<char>(ch - 'A' + 'a'));
      changed = true;
    } else {
      folded.push_back('_');
      changed = true;
    }
  }
  const std::size_t room = kMaxName - kNamePrefix.size() - kReverseSuffix;
  if (folded.size() > room) changed = true;
  if (changed) {
    folded.resize(std::min(folded.size(), room - kHashPart));
    char hash[16];
    std::snprintf(hash, sizeof hash, "_%08x", stable_hash(database));
    folded += hash;
  }
  ReplicationNames names;
  names.forward = std::string(kNamePrefix) + folded;
  names.reverse = names.forward + "_rev";
  return names;
}

}  // namespace pgdual::cdc
