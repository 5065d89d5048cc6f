// Real, small filesystems for tests that need the kernel's own numbers and ENOSPC: a
// size-limited tmpfs, and a loop-mounted ext4 with its default 5 % root reserve. Mounting
// needs root: otherwise (or if mounting fails) ok() is false and the test should skip with
// LTXGUARD_SKIP_UNLESS_MOUNTED(m). Unmounted and removed at scope exit, even on failure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ltxguard::testing {

class ScratchMount {
 public:
  ScratchMount(const ScratchMount&) = delete;
  ScratchMount& operator=(const ScratchMount&) = delete;
  // Unmounts (detaching lazily when something still holds it open) and removes the
  // mount point and any image file.
  virtual ~ScratchMount();

  [[nodiscard]] bool ok() const { return mounted_; }
  [[nodiscard]] const std::string& skip_reason() const { return skip_reason_; }
  // The mount point (empty unless ok()).
  [[nodiscard]] const std::string& path() const { return mount_point_; }
  // path() + "/" + name
  [[nodiscard]] std::string file(const std::string& name) const {
    return mount_point_ + "/" + name;
  }

 protected:
  ScratchMount();         // creates work_dir_ and its "mnt" subdirectory when root
  std::string work_dir_;  // holds mnt/ and, for loop mounts, the image
  std::string mount_point_;
  bool mounted_ = false;
  std::string skip_reason_;
};

class TmpfsMount final : public ScratchMount {
 public:
  // `extra_options` is appended to "size=N" (e.g. "nr_inodes=64").
  explicit TmpfsMount(uint64_t size_bytes, const std::string& extra_options = {});
};

class Ext4LoopMount final : public ScratchMount {
 public:
  // A sparse image of size_bytes, mkfs.ext4 -q -F (1 KiB blocks below 512 MiB, 5 % reserved
  // for root), mount -o loop. The loop device is released at unmount (autoclear).
  explicit Ext4LoopMount(uint64_t size_bytes);
};

// Exit status of argv run without a shell (stdout/stderr to /dev/null); -1 if it cannot run.
[[nodiscard]] int run_quietly(const std::vector<std::string>& argv);

}  // namespace ltxguard::testing

#define LTXGUARD_SKIP_UNLESS_MOUNTED(m) \
  if (!(m).ok()) GTEST_SKIP() << (m).skip_reason()
