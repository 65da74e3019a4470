#pragma once

// The only file-system access of the config layer: resolving paths named in the config, checking
// that certificate files are readable, and reading *_file secrets.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace pgdual::config {

// A relative path is taken relative to base_dir (the config file's directory); absolute paths
// and an empty base_dir leave it unchanged.
std::string resolve_path(std::string_view base_dir, std::string_view path);

// Why the file cannot be used ("no such file", "is a directory", strerror), or nullopt when it
// exists as a regular file and is readable.
std::optional<std::string> unreadable_reason(const std::string& path);

struct SecretFile {
  std::string value;                // the content, trailing CR/LF removed
  std::string error;                // never contains the content
  bool readable_by_others = false;  // group/other permission bits set: worth a warning
};

// Reads a secret file of at most max_size bytes. Trailing "\n" / "\r\n" are removed, because
// `echo secret > file` and Kubernetes/Docker secrets usually end with one; an empty result is an
// error.
SecretFile read_secret_file(const std::string& path, std::size_t max_size = 64 * 1024);

}  // namespace pgdual::config
