// /proc/<pid>/mountinfo: which mount a path lives on, its filesystem type, source and options,
// and whether it is a bind mount. Format: proc(5), "/proc/[pid]/mountinfo".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ltxguard::formats {

struct MountEntry {
  int mount_id = 0;
  int parent_id = 0;
  uint32_t major = 0, minor = 0;  // st_dev of files on this mount
  std::string root;           // the directory of the filesystem mounted here ("/" unless a bind)
  std::string mount_point;    // where it is mounted, relative to the reader's root
  std::string options;        // per-mount options ("rw,relatime")
  std::string fstype;         // "ext4", "tmpfs", "fuse.sshfs"
  std::string source;         // "/dev/vda1", "tmpfs"; "none" when the kernel has nothing
  std::string super_options;  // per-superblock options ("rw,errors=remount-ro")
};

// Parses mountinfo text in file order. Malformed lines are skipped, not reported: the file
// comes from the kernel and a bad line only means an entry is unknown. Octal escapes
// (\040 space, \011 tab, \012 newline, \134 backslash) are decoded in root, mount point,
// source and options. Optional fields (shared:N, master:N, ...) end at the "-" separator.
[[nodiscard]] std::vector<MountEntry> parse_mountinfo(std::string_view text);

// The entry for device (major, minor) whose mount point is the longest path-component prefix
// of `path` (an absolute canonical path); among equal mount points the last one listed, which
// is the one on top. nullptr when none matches. The pointer points into `entries`.
[[nodiscard]] const MountEntry* find_mount(const std::vector<MountEntry>& entries, uint32_t major,
                                           uint32_t minor, std::string_view path);

// A bind mount (or a btrfs subvolume) shows a subdirectory of its filesystem: root != "/".
[[nodiscard]] bool is_bind_mount(const MountEntry& entry);

}  // namespace ltxguard::formats
