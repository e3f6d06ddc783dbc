// The error every config problem throws: a bad key, value or combination in a training config,
// a recipe or a command-line override. The message is one line a user can act on, naming the
// file, line and key where there is one. CLIs print it on one line and exit 1 (docs/training.md).
#pragma once

#include <stdexcept>
#include <string>

namespace ternary {

class ConfigError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// A value that breaks a rule of one field (e.g. "n_heads (6) must divide dim (256)"). field()
// names the key as data, so a config reader can point at that key's line in the file.
class FieldError : public ConfigError {
 public:
  FieldError(std::string field, const std::string& message) : ConfigError(message), field_(std::move(field)) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

}  // namespace ternary
