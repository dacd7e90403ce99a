#pragma once
/// An output stream over a file descriptor in which every write is checked: a failure
/// throws at once (so a writer of gigabytes stops at the first full disk), a closed pipe is
/// told apart from other failures, and a stop signal can end a long write between buffers.

#include <memory>
#include <ostream>
#include <stdexcept>
#include <streambuf>
#include <string>

namespace memsim::tools {

/// A write failed (a full disk, an I/O error): the command exits 1.
class OutputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The reader of a pipe went away (`memsim sweep S | head -1`): the program ends quietly.
class OutputClosed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class FdStreambuf : public std::streambuf {
 public:
  /// Writes to `fd` (not owned), named `name` in messages. With `stop_on_signal`, a stop
  /// signal that abandons output (output_abandoned()) throws Interrupted at the next buffer.
  FdStreambuf(int fd, std::string name, bool stop_on_signal);
  FdStreambuf(const FdStreambuf&) = delete;
  FdStreambuf& operator=(const FdStreambuf&) = delete;

  /// Writes what is buffered; throws OutputError, OutputClosed or Interrupted.
  void finish();

 protected:
  int_type overflow(int_type ch) override;
  std::streamsize xsputn(const char* data, std::streamsize size) override;
  int sync() override;

 private:
  void flush_buffer();
  void write_all(const char* data, size_t size);

  int fd_;
  std::string name_;
  bool stop_on_signal_;
  std::unique_ptr<char[]> buffer_;
};

/// An ostream over a FdStreambuf that lets its exceptions through (badbit is exceptional).
class FdOstream : public std::ostream {
 public:
  FdOstream(int fd, std::string name, bool stop_on_signal);
  void finish() { buffer_.finish(); }

 private:
  FdStreambuf buffer_;
};

}  // namespace memsim::tools
