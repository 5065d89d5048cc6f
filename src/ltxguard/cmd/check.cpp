#include "ltxguard/cmd/check.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "ltxguard/cmd/common.hpp"
#include "ltxguard/collect/database.hpp"
#include "ltxguard/collect/evidence.hpp"
#include "ltxguard/formats/litestream_layout.hpp"
#include "ltxguard/formats/redaction.hpp"
#include "ltxguard/formats/systemd_unit.hpp"
#include "ltxguard/output/text_escape.hpp"

namespace ltxguard::cmd {
namespace {

constexpr size_t kMaxDropIns = 1000;

std::string parent_dir(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_name(std::string_view path) {
  const size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// statvfs needs an existing path: a meta dir Litestream has not created yet lands on the
// filesystem of its nearest existing parent.
std::string nearest_existing(const sys::FileSystem& fs, std::string path) {
  while (!fs.stat(path)) {
    if (path == "/" || path.empty()) return "/";
    path = parent_dir(path);
  }
  return path;
}

// Reads a unit or drop-in the way the config is read: a symlink is resolved once, then the
// target is read without following anything further. nullopt = masked (a link to /dev/null).
util::Result<std::optional<formats::SystemdUnit>> read_unit_file(const sys::FileSystem& fs,
                                                                 const std::string& path) {
  auto real = fs.real_path(path);
  if (!real) return util::fail(real.error());
  if (*real == "/dev/null") return std::optional<formats::SystemdUnit>{};
  auto text = fs.read_text(*real, formats::kMaxUnitBytes + 1);
  if (!text) return util::fail(text.error());
  auto unit = formats::parse_systemd_unit(*text, path);
  if (!unit) return util::fail(unit.error());
  return std::optional<formats::SystemdUnit>(std::move(*unit));
}

// Drop-in files by name across `dirs` (each "<unit>.d"), the first directory's copy of a name
// winning; std::map keeps them in the file-name order systemd applies them in.
util::Result<std::map<std::string, std::string>> find_drop_ins(
    const sys::FileSystem& fs, const std::vector<std::string>& dirs) {
  std::map<std::string, std::string> by_name;
  for (const auto& dir : dirs) {
    auto entries = fs.list_dir(dir, kMaxDropIns);
    if (!entries) {
      if (entries.error().code == util::ErrorCode::not_found) continue;
      return util::fail(entries.error());
    }
    for (const auto& e : *entries) {
      if (!e.name.ends_with(".conf")) continue;
      if (e.stat.type != sys::FileType::regular && e.stat.type != sys::FileType::symlink) continue;
      by_name.emplace(e.name, dir + "/" + e.name);
    }
  }
  return by_name;
}

util::Result<void> apply_drop_ins(const sys::FileSystem& fs, formats::SystemdUnit& unit,
                                  const std::vector<std::string>& dirs) {
  auto drop_ins = find_drop_ins(fs, dirs);
  if (!drop_ins) return util::fail(drop_ins.error());
  for (const auto& [name, path] : *drop_ins) {
    auto d = read_unit_file(fs, path);
    if (!d) return util::fail(d.error());
    if (*d) formats::merge_drop_in(unit, **d);
  }
  return {};
}

// Fills input.unit / unit_path / unit_note. Only an explicit --unit can fail the command.
util::Result<void> load_unit(const sys::FileSystem& fs, const CheckArgs& args,
                             const UnitSearch& search, model::CheckInput& input) {
  if (!args.unit_path.empty()) {
    auto unit = read_unit_file(fs, args.unit_path);
    if (!unit) return util::fail(unit.error());
    input.unit_path = args.unit_path;
    if (!*unit) {
      input.unit_note = args.unit_path + " is masked (a link to /dev/null)";
      return {};
    }
    if (auto r = apply_drop_ins(fs, **unit, {args.unit_path + ".d"}); !r)
      return util::fail(r.error());
    input.unit = std::move(*unit);
    return {};
  }
  std::string found;
  for (const auto& dir : search.dirs) {
    const std::string candidate = dir + "/" + search.name;
    if (fs.lstat(candidate)) {
      found = candidate;
      break;
    }
  }
  if (found.empty()) {
    input.unit_note = fmt::format("no {} in {}", search.name, fmt::join(search.dirs, ", "));
    return {};
  }
  input.unit_path = found;
  auto unit = read_unit_file(fs, found);
  if (!unit) {
    input.unit_note = unit.error().to_string();
    return {};
  }
  if (!*unit) {
    input.unit_note = found + " is masked (a link to /dev/null)";
    return {};
  }
  std::vector<std::string> drop_in_dirs;
  for (const auto& dir : search.dirs) drop_in_dirs.push_back(dir + "/" + search.name + ".d");
  if (auto r = apply_drop_ins(fs, **unit, drop_in_dirs); !r) {
    input.unit_note = r.error().to_string();
    return {};
  }
  input.unit = std::move(*unit);
  return {};
}

// The absolute litestream binary ExecStart= runs, directly or under a supervisor
// ("ltxguard run -- /usr/bin/litestream replicate"); "" when none is named or it is not there.
std::string litestream_from_unit(const sys::FileSystem& fs, const formats::SystemdUnit& unit) {
  const auto exec = unit.get_all("Service", "ExecStart");
  if (exec.empty()) return {};
  std::string_view rest = exec.back();
  while (!rest.empty()) {
    const size_t start = rest.find_first_not_of(" \t");
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    const size_t end = rest.find_first_of(" \t");
    std::string_view word = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
    while (!word.empty() &&
           std::string_view("-@:+!").find(word.front()) != std::string_view::npos) {
      word.remove_prefix(1);
    }
    if (word.starts_with('/') && base_name(word) == "litestream") {
      auto st = fs.stat(std::string(word));
      if (st && st->type == sys::FileType::regular) return std::string(word);
    }
  }
  return {};
}

bool is_absolute(const std::string& p) { return !p.empty() && p.front() == '/'; }

model::CheckInput::DbPlacement place(const sys::FileSystem& fs, const formats::DbConfig& db) {
  model::CheckInput::DbPlacement p;
  if (!db.dir.empty()) {
    // A `dir:` entry: each database's meta dir sits next to it unless meta-dir/meta-path moves it.
    p.db_path = db.dir;
    p.meta_path = !db.meta_dir.empty()            ? db.meta_dir
                  : !db.meta_path_setting.empty() ? db.meta_path_setting
                                                  : db.dir;
  } else {
    p.db_path = db.path;
    p.meta_path = db.meta_path;
  }
  for (const auto& r : db.replicas) {
    if (r.type != "file" || r.path.empty()) continue;
    model::CheckInput::DbPlacement::FileReplica fr;
    fr.path = r.path;
    if (!is_absolute(r.path)) {
      fr.note = "not an absolute path (Litestream resolves it against its own working directory)";
    } else if (auto st = fs.fs_stats(nearest_existing(fs, r.path))) {
      // The replica dir may not exist yet: Litestream creates it on the first upload.
      fr.dev = st->dev;
    } else {
      fr.note = st.error().to_string();
    }
    p.file_replicas.push_back(std::move(fr));
  }
  for (const std::string* path : {&p.db_path, &p.meta_path}) {
    if (!is_absolute(*path)) {
      p.note = fmt::format(
          "'{}' is not an absolute path (Litestream resolves it against its own working "
          "directory)",
          *path);
      return p;
    }
  }
  if (db.dir.empty()) {
    if (auto sp = collect::sqlite_path(fs, p.db_path); sp && *sp != p.db_path) p.sqlite_path = *sp;
  }
  auto db_fs = fs.fs_stats(nearest_existing(fs, p.db_path));
  if (db_fs) {
    p.db_dev = db_fs->dev;
    p.fs_total_bytes = db_fs->total_bytes;
  } else {
    p.note = db_fs.error().to_string();
  }
  auto meta_fs = fs.fs_stats(nearest_existing(fs, p.meta_path));
  if (meta_fs) {
    p.meta_dev = meta_fs->dev;
  } else if (p.note.empty()) {
    p.note = meta_fs.error().to_string();
  }
  if (db.dir.empty()) {
    // Page size from the 100-byte header only, and only of a path that passes the same checks
    // evidence applies (regular file, no symlink out of its directory).
    if (auto checked = collect::check_database_path(fs, p.db_path)) {
      const collect::DatabaseFiles files = collect::collect_database(fs, *checked);
      if (files.header) p.page_size_bytes = files.header->page_size_bytes;
    }
  }
  return p;
}

std::string status_word(model::CheckStatus s) {
  switch (s) {
    case model::CheckStatus::ok:
      return "ok";
    case model::CheckStatus::warning:
      return "warning";
    case model::CheckStatus::unknown:
      return "unknown";
    case model::CheckStatus::failed:
      return "failed";
  }
  return "unknown";
}

// Secrets never reach the terminal; replica paths stay readable (the operator's own screen,
// like barman check).
formats::Redactor redactor_for(const model::CheckInput& input) {
  formats::RedactionOptions opts;
  opts.show_replica_paths = true;
  return input.config ? formats::make_redactor(*input.config, process_env(), opts)
                      : formats::Redactor(opts);
}

std::string unit_label(const model::CheckInput& input) {
  if (!input.unit) return "none";
  const size_t n = input.unit->drop_ins.size();
  if (n == 0) return input.unit_path;
  return fmt::format("{} + {} drop-in{}", input.unit_path, n, n == 1 ? "" : "s");
}

}  // namespace

util::Result<model::CheckInput> gather_check_input(const sys::FileSystem& fs, const CheckArgs& args,
                                                   const UnitSearch& search) {
  model::CheckInput input;
  auto loaded = load_litestream_config(fs, args.config_path);
  if (!loaded) return util::fail(loaded.error());
  input.config = std::move(loaded->config);
  input.config_path = loaded->path;
  if (!input.config)
    input.config_note = "no --config given, no $LITESTREAM_CONFIG and no /etc/litestream.yml";

  auto policy = load_policy(fs, args.policy_path);
  if (!policy) return util::fail(policy.error());
  input.policy = std::move(policy->policy);
  input.policy_path = policy->path;

  if (auto r = load_unit(fs, args, search, input); !r) return util::fail(r.error());

  std::string bin = args.litestream_bin;
  if (bin.empty() && input.unit) bin = litestream_from_unit(fs, *input.unit);
  const collect::LitestreamEvidence ls =
      collect::detect_version(bin, collect::LogEvidence{}, std::nullopt, formats::Layout::none);
  input.version = ls.parsed;
  input.version_note = ls.version_note;

  if (input.config) {
    for (const auto& db : input.config->dbs) input.placements.push_back(place(fs, db));
  }
  return input;
}

std::string check_text(const model::CheckInput& input,
                       const std::vector<model::CheckFinding>& findings) {
  // Paths and messages quote the config and the unit: redacted, then escaped, so a path
  // holding "\n" cannot add a finding line of its own.
  const formats::Redactor red = redactor_for(input);
  const auto e = [&](const std::string& s) { return output::escape_text(red.redact(s)); };
  std::string out =
      fmt::format("Litestream setup (config {}, unit {}, policy {}):\n",
                  input.config ? e(input.config_path) : "none", e(unit_label(input)),
                  input.policy_path.empty() ? "built-in defaults" : e(input.policy_path));
  for (const auto& f : findings) {
    out += fmt::format("\t{}: {}", f.id, model::check_status_name(f.status));
    if (f.status != model::CheckStatus::ok) {
      out += " (" + e(f.message);
      if (!f.hint.empty()) out += "; hint: " + e(f.hint);
      out += ")";
    }
    out += "\n";
  }
  return red.redact(out);
}

std::string check_json(const model::CheckInput& input,
                       const std::vector<model::CheckFinding>& findings) {
  const formats::Redactor red = redactor_for(input);
  nlohmann::ordered_json j;
  j["status"] = status_word(model::overall(findings));
  nlohmann::ordered_json inputs;
  inputs["config"] = input.config ? nlohmann::ordered_json(red.redact(input.config_path)) : nullptr;
  inputs["unit"] = input.unit ? nlohmann::ordered_json(red.redact(input.unit_path)) : nullptr;
  inputs["drop_ins"] = nlohmann::ordered_json::array();
  if (input.unit) {
    for (const auto& d : input.unit->drop_ins) inputs["drop_ins"].push_back(red.redact(d));
  }
  inputs["policy"] =
      input.policy_path.empty() ? nullptr : nlohmann::ordered_json(red.redact(input.policy_path));
  inputs["litestream_version"] =
      input.version ? nlohmann::ordered_json(red.redact(input.version->raw)) : nullptr;
  j["inputs"] = std::move(inputs);
  j["findings"] = nlohmann::ordered_json::array();
  for (const auto& f : findings) {
    j["findings"].push_back({{"id", f.id},
                             {"status", status_word(f.status)},
                             {"message", red.redact(f.message)},
                             {"hint", red.redact(f.hint)}});
  }
  // Hostile config text may hold invalid UTF-8: replace it rather than throw.
  return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

int check_exit_code(model::CheckStatus status) {
  switch (status) {
    case model::CheckStatus::ok:
      return kExitOk;
    case model::CheckStatus::warning:
      return kExitWarning;
    case model::CheckStatus::failed:
      return kExitCritical;
    case model::CheckStatus::unknown:
      return kExitUnknown;
  }
  return kExitUnknown;
}

int run_check(const CheckArgs& args) {
  sys::RealFileSystem fs;
  auto input = gather_check_input(fs, args);
  if (!input) return report_error(input.error());
  const auto findings = model::run_checks(*input);
  const std::string out = args.json ? check_json(*input, findings) : check_text(*input, findings);
  std::fputs(out.c_str(), stdout);
  return check_exit_code(model::overall(findings));
}

}  // namespace ltxguard::cmd
