#include "scenarios/input_text.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

namespace memsim::scenarios {

namespace {

/// The length of the UTF-8 sequence starting at `text[at]`, or 0 when it is not one
/// (overlong forms, surrogates and code points above U+10FFFF included; RFC 3629 §4).
size_t utf8_sequence(const std::string& text, size_t at) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(at);
  if (lead == 0) return 0;
  if (lead < 0x80) return 1;
  size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (at + length > text.size()) return 0;
  if (byte(at + 1) < low || byte(at + 1) > high) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (byte(at + i) < 0x80 || byte(at + i) > 0xBF) return 0;
  }
  return length;
}

}  // namespace

std::string read_input_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw InputError({path, 0, 0}, fmt::format("cannot read file: {}", std::strerror(errno)));
  struct stat st = {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw InputError({path, 0, 0}, "is a directory, not a file");
  }
  std::string text;
  char buffer[65536];
  while (true) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int error = errno;
      ::close(fd);
      throw InputError({path, 0, 0}, fmt::format("cannot read file: {}", std::strerror(error)));
    }
    if (got == 0) break;
    if (text.size() + static_cast<size_t>(got) > kMostInputBytes) {
      ::close(fd);
      throw InputError({path, 0, 0}, fmt::format("is larger than {} MiB, more than memsim reads",
                                                 kMostInputBytes >> 20));
    }
    text.append(buffer, static_cast<size_t>(got));
  }
  ::close(fd);
  return text;
}

Location location_at(const std::string& text, size_t offset, const std::string& origin) {
  int line = 1;
  int column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {origin, line, column};
}

void check_utf8(const std::string& text, const std::string& origin) {
  for (size_t at = 0; at < text.size();) {
    const size_t length = utf8_sequence(text, at);
    if (length == 0) {
      const auto byte = static_cast<unsigned char>(text[at]);
      throw InputError(location_at(text, at, origin),
                       byte == 0 ? std::string("a NUL byte; the file is not text")
                                 : fmt::format("byte 0x{:02X} is not valid UTF-8 text", byte));
    }
    at += length;
  }
}

std::string as_utf8(const std::string& text) {
  std::string out;
  for (size_t at = 0; at < text.size();) {
    const size_t length = utf8_sequence(text, at);
    if (length == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      ++at;
    } else {
      out.append(text, at, length);
      at += length;
    }
  }
  return out;
}

}  // namespace memsim::scenarios
