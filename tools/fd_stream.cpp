#include "tools/fd_stream.h"

#include <cerrno>
#include <cstring>
#include <unistd.h>

#include <fmt/format.h>

#include "tools/signals.h"

namespace memsim::tools {

namespace {

constexpr size_t kBufferBytes = size_t{1} << 16;

}  // namespace

FdStreambuf::FdStreambuf(int fd, std::string name, bool stop_on_signal)
    : fd_(fd),
      name_(std::move(name)),
      stop_on_signal_(stop_on_signal),
      buffer_(new char[kBufferBytes]) {
  setp(buffer_.get(), buffer_.get() + kBufferBytes);
}

void FdStreambuf::finish() {
  flush_buffer();
}

FdStreambuf::int_type FdStreambuf::overflow(int_type ch) {
  flush_buffer();
  if (!traits_type::eq_int_type(ch, traits_type::eof())) {
    *pptr() = traits_type::to_char_type(ch);
    pbump(1);
  }
  return traits_type::not_eof(ch);
}

std::streamsize FdStreambuf::xsputn(const char* data, std::streamsize size) {
  const auto room = static_cast<std::streamsize>(epptr() - pptr());
  if (size <= room) {
    std::memcpy(pptr(), data, static_cast<size_t>(size));
    pbump(static_cast<int>(size));
    return size;
  }
  // Larger than the room left: what is buffered first, then this directly.
  flush_buffer();
  write_all(data, static_cast<size_t>(size));
  return size;
}

int FdStreambuf::sync() {
  flush_buffer();
  return 0;
}

void FdStreambuf::flush_buffer() {
  const auto size = static_cast<size_t>(pptr() - pbase());
  setp(buffer_.get(), buffer_.get() + kBufferBytes);
  write_all(buffer_.get(), size);
}

void FdStreambuf::write_all(const char* data, size_t size) {
  if (stop_on_signal_ && output_abandoned()) {
    throw Interrupted(stop_signal(), fmt::format("{} was not written", name_));
  }
  while (size > 0) {
    const ssize_t written = ::write(fd_, data, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE) throw OutputClosed(fmt::format("{}: the reader has gone", name_));
      throw OutputError(fmt::format("cannot write to {}: {}", name_, std::strerror(errno)));
    }
    data += written;
    size -= static_cast<size_t>(written);
  }
}

FdOstream::FdOstream(int fd, std::string name, bool stop_on_signal)
    : std::ostream(nullptr), buffer_(fd, std::move(name), stop_on_signal) {
  rdbuf(&buffer_);
  exceptions(std::ios::badbit);
}

}  // namespace memsim::tools
