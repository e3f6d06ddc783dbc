#include "quantizers/levels.h"

#include <stdexcept>

namespace ternary {

int64_t Levels::min_code() const {
  switch (kind) {
    case LevelKind::kTernary:
    case LevelKind::kBinary: return -1;
    case LevelKind::kSignedInt:
      return narrow_range ? -((int64_t{1} << (bits - 1)) - 1) : -(int64_t{1} << (bits - 1));
    case LevelKind::kUnsignedInt: return 0;
  }
  return 0;
}

int64_t Levels::max_code() const {
  switch (kind) {
    case LevelKind::kTernary:
    case LevelKind::kBinary: return 1;
    case LevelKind::kSignedInt: return (int64_t{1} << (bits - 1)) - 1;
    case LevelKind::kUnsignedInt: return (int64_t{1} << bits) - 1;
  }
  return 0;
}

void Levels::validate() const {
  switch (kind) {
    case LevelKind::kTernary:
      if (bits != 2) throw std::invalid_argument("ternary levels use 2 bits, got bits=" + std::to_string(bits));
      break;
    case LevelKind::kBinary:
      if (bits != 1) throw std::invalid_argument("binary levels use 1 bit, got bits=" + std::to_string(bits));
      break;
    case LevelKind::kSignedInt:
      if (bits < 2 || bits > 16)
        throw std::invalid_argument("signed int levels need 2 <= bits <= 16, got bits=" + std::to_string(bits));
      break;
    case LevelKind::kUnsignedInt:
      if (bits < 1 || bits > 16)
        throw std::invalid_argument("unsigned int levels need 1 <= bits <= 16, got bits=" + std::to_string(bits));
      break;
  }
}

std::string Levels::describe() const {
  switch (kind) {
    case LevelKind::kTernary: return "ternary";
    case LevelKind::kBinary: return "binary";
    case LevelKind::kSignedInt: return "int" + std::to_string(bits) + (narrow_range ? "_narrow" : "");
    case LevelKind::kUnsignedInt: return "uint" + std::to_string(bits);
  }
  return "?";
}

}  // namespace ternary
