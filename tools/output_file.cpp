#include "tools/output_file.h"

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

#include <fmt/format.h>

#include "scenarios/diagnostics.h"
#include "tools/fd_stream.h"
#include "tools/signals.h"

namespace memsim::tools {

namespace {

namespace fs = std::filesystem;

/// Links followed before giving up, as the kernel's own limit (MAXSYMLINKS).
constexpr int kMostLinks = 40;

enum class Kind { kStdout, kInPlace, kSocket, kReplace };

struct Destination {
  Kind kind = Kind::kStdout;
  std::string path;  ///< kReplace: the file itself, links followed; otherwise as given
  bool exists = false;
  struct stat existing = {};  ///< kReplace with `exists`
};

[[noreturn]] void refuse(const std::string& flag_path, const std::string& message) {
  throw scenarios::InputError({"-o " + flag_path, 0, 0}, message);
}

std::string reason() {
  return std::strerror(errno);
}

/// An open descriptor named as a file (/dev/stdout, /dev/fd/1, /proc/self/fd/1): the
/// descriptor's file is written in place, never replaced.
bool names_a_descriptor(const std::string& path) {
  return path.starts_with("/dev/fd/") ||
         (path.starts_with("/proc/") && path.find("/fd/") != std::string::npos);
}

fs::path folder_of(const fs::path& path) {
  return path.has_parent_path() ? path.parent_path() : fs::path(".");
}

std::string read_link(const std::string& link, const std::string& flag_path) {
  std::vector<char> target(PATH_MAX + 1);
  const ssize_t size = ::readlink(link.c_str(), target.data(), target.size() - 1);
  if (size < 0) refuse(flag_path, fmt::format("cannot read the link {}: {}", link, reason()));
  return std::string(target.data(), static_cast<size_t>(size));
}

/// What `path` names, links followed one at a time so that a link to a file that does not
/// exist yet is followed too.
Destination classify(const std::string& path) {
  if (path.empty() || path == "-") return {};
  std::string current = path;
  for (int hop = 0; hop <= kMostLinks; ++hop) {
    if (names_a_descriptor(current)) return {Kind::kInPlace, path};
    struct stat st = {};
    if (::lstat(current.c_str(), &st) != 0) {
      if (errno != ENOENT) refuse(path, fmt::format("cannot use {}: {}", current, reason()));
      const fs::path folder = folder_of(current);
      struct stat dir = {};
      if (::stat(folder.c_str(), &dir) != 0 || !S_ISDIR(dir.st_mode)) {
        refuse(path, fmt::format("no such folder: {}", folder.string()));
      }
      return {Kind::kReplace, current};
    }
    if (S_ISLNK(st.st_mode)) {
      const fs::path target = read_link(current, path);
      current = target.is_absolute() ? target.string() : (folder_of(current) / target).string();
      continue;
    }
    if (S_ISREG(st.st_mode)) return {Kind::kReplace, current, true, st};
    if (S_ISDIR(st.st_mode)) refuse(path, "is a directory; name a file to write");
    if (S_ISBLK(st.st_mode)) {
      refuse(path, "is a block device; memsim writes files, character devices, FIFOs and sockets");
    }
    return {S_ISSOCK(st.st_mode) ? Kind::kSocket : Kind::kInPlace, path};
  }
  refuse(path, "too many levels of symbolic links");
}

bool in_group(gid_t gid) {
  if (gid == ::getegid()) return true;
  const int count = ::getgroups(0, nullptr);
  std::vector<gid_t> groups(static_cast<size_t>(std::max(count, 0)));
  const int got = ::getgroups(count, groups.data());
  return std::find(groups.begin(), groups.begin() + std::max(got, 0), gid) !=
         groups.begin() + std::max(got, 0);
}

/// Judged on the mode bits alone: root may write anything, but a file that nobody may
/// write is one its owner protected, and memsim does not replace it.
bool mode_allows_writing(const struct stat& st) {
  const uid_t uid = ::geteuid();
  if (uid == 0) return (st.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH)) != 0;
  if (st.st_uid == uid) return (st.st_mode & S_IWUSR) != 0;
  if (in_group(st.st_gid)) return (st.st_mode & S_IWGRP) != 0;
  return (st.st_mode & S_IWOTH) != 0;
}

/// A descriptor that is closed when it goes out of scope.
class OpenFile {
 public:
  explicit OpenFile(int fd) : fd_(fd) {}
  ~OpenFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  int fd() const { return fd_; }
  /// Closes now; false (with errno) when the system reports a late write error.
  bool close() {
    const int fd = fd_;
    fd_ = -1;
    return ::close(fd) == 0;
  }

 private:
  int fd_;
};

/// The temporary file beside the target: removed unless it was renamed into place.
class TemporaryFile {
 public:
  explicit TemporaryFile(std::string path) : path_(std::move(path)) {}
  ~TemporaryFile() {
    if (!committed_) ::unlink(path_.c_str());
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  const std::string& path() const { return path_; }
  void committed() { committed_ = true; }

 private:
  std::string path_;
  bool committed_ = false;
};

void write_stream(int fd, const std::string& name, bool stop_on_signal,
                  const std::function<void(std::ostream&)>& write) {
  FdOstream out(fd, name, stop_on_signal);
  write(out);
  out.finish();
}

/// Permissions and owner of the file being replaced (or a new file's default mode).
void give_attributes(int fd, const Destination& d, const std::string& flag_path) {
  mode_t mode = 0;
  if (d.exists) {
    mode = d.existing.st_mode & 07777;
  } else {
    const mode_t mask = ::umask(0);
    ::umask(mask);
    mode = 0666 & ~mask;
  }
  if (::fchmod(fd, mode) != 0) refuse(flag_path, fmt::format("cannot set its mode: {}", reason()));
  if (d.exists && (d.existing.st_uid != ::geteuid() || d.existing.st_gid != ::getegid()) &&
      ::fchown(fd, d.existing.st_uid, d.existing.st_gid) != 0) {
    refuse(flag_path, fmt::format("cannot keep its owner ({}:{}) on the file that replaces it: {}",
                                  d.existing.st_uid, d.existing.st_gid, reason()));
  }
}

void replace_file(const Destination& d, const std::string& flag_path,
                  const std::function<void(std::ostream&)>& write) {
  if (d.exists && !mode_allows_writing(d.existing)) {
    refuse(flag_path, fmt::format("the file is read-only (mode {:04o}); memsim does not replace it",
                                  d.existing.st_mode & 07777));
  }
  const fs::path target(d.path);
  const fs::path folder = folder_of(target);
  std::string temp =
      (folder / fmt::format(".{}.memsim-XXXXXX", target.filename().string())).string();
  // Deferred from before the temporary file exists until it is gone or in place.
  const SignalDeferral deferral;
  OpenFile file(::mkostemp(temp.data(), O_CLOEXEC));
  if (file.fd() < 0) {
    refuse(flag_path, fmt::format("cannot create a file in {}: {}", folder.string(), reason()));
  }
  TemporaryFile guard(temp);
  give_attributes(file.fd(), d, flag_path);
  write_stream(file.fd(), flag_path, true, write);
  if (!file.close()) throw OutputError(fmt::format("cannot write to {}: {}", flag_path, reason()));
  if (output_abandoned()) throw Interrupted(stop_signal(), flag_path + " was not written");
  if (::rename(guard.path().c_str(), d.path.c_str()) != 0) {
    throw OutputError(fmt::format("cannot replace {}: {}", d.path, reason()));
  }
  guard.committed();
}

int open_in_place(const std::string& path) {
  // A regular file reached through a descriptor's name was opened by the shell: append, so
  // that `>>` keeps what was there and `>` has already emptied it.
  struct stat st = {};
  const bool regular = ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
  const int fd = ::open(path.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC | (regular ? O_APPEND : 0));
  if (fd < 0) refuse(path, fmt::format("cannot open it for writing: {}", reason()));
  return fd;
}

int connect_socket(const std::string& path) {
  sockaddr_un address = {};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) refuse(path, "the socket's path is too long");
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) refuse(path, fmt::format("cannot open a socket: {}", reason()));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    const std::string why = reason();
    ::close(fd);
    refuse(path, fmt::format("cannot connect to the socket: {}", why));
  }
  return fd;
}

}  // namespace

void write_output(const std::string& path, const std::function<void(std::ostream&)>& write) {
  const Destination destination = classify(path);
  switch (destination.kind) {
    case Kind::kStdout:
      write_stream(STDOUT_FILENO, "standard output", false, write);
      return;
    case Kind::kReplace:
      replace_file(destination, path, write);
      return;
    case Kind::kInPlace:
    case Kind::kSocket: {
      OpenFile file(destination.kind == Kind::kSocket ? connect_socket(path) : open_in_place(path));
      write_stream(file.fd(), path, false, write);
      if (!file.close()) throw OutputError(fmt::format("cannot write to {}: {}", path, reason()));
      return;
    }
  }
}

}  // namespace memsim::tools
