#include "support/mounts.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

extern char** environ;

namespace ltxguard::testing {

int run_quietly(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

ScratchMount::ScratchMount() {
  if (::geteuid() != 0) {
    skip_reason_ = "needs root to mount a scratch filesystem";
    return;
  }
  std::string tmpl = "/tmp/ltxguard-mount-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    skip_reason_ = std::string("mkdtemp: ") + std::strerror(errno);
    return;
  }
  work_dir_ = tmpl;
  const std::string mnt = work_dir_ + "/mnt";
  if (::mkdir(mnt.c_str(), 0755) != 0) {
    skip_reason_ = std::string("mkdir: ") + std::strerror(errno);
    return;
  }
  mount_point_ = mnt;
}

ScratchMount::~ScratchMount() {
  if (mounted_ && ::umount2(mount_point_.c_str(), 0) != 0) {
    // A test left a file open (or a child still runs in it): detach now, freed at last close.
    ::umount2(mount_point_.c_str(), MNT_DETACH);
  }
  if (!work_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(work_dir_, ec);
  }
}

TmpfsMount::TmpfsMount(uint64_t size_bytes, const std::string& extra_options) {
  if (mount_point_.empty()) return;
  std::string options = "size=" + std::to_string(size_bytes);
  if (!extra_options.empty()) options += "," + extra_options;
  if (::mount("tmpfs", mount_point_.c_str(), "tmpfs", 0, options.c_str()) != 0) {
    skip_reason_ = std::string("mount tmpfs: ") + std::strerror(errno);
    mount_point_.clear();
    return;
  }
  mounted_ = true;
}

Ext4LoopMount::Ext4LoopMount(uint64_t size_bytes) {
  if (mount_point_.empty()) return;
  const std::string image = work_dir_ + "/fs.img";
  const int fd = ::open(image.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(size_bytes)) != 0) {
    skip_reason_ = std::string("image: ") + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    mount_point_.clear();
    return;
  }
  ::close(fd);
  int rc = run_quietly({"mkfs.ext4", "-q", "-F", image});
  if (rc == -1) rc = run_quietly({"/usr/sbin/mkfs.ext4", "-q", "-F", image});
  if (rc != 0) {
    skip_reason_ = "mkfs.ext4 failed (exit " + std::to_string(rc) + ")";
    mount_point_.clear();
    return;
  }
  rc = run_quietly({"mount", "-o", "loop", image, mount_point_});
  if (rc != 0) {
    skip_reason_ = "mount -o loop failed (exit " + std::to_string(rc) + ")";
    mount_point_.clear();
    return;
  }
  mounted_ = true;
}

}  // namespace ltxguard::testing
