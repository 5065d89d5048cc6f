#include "ltxguard/model/reserve.hpp"

#include "ltxguard/model/budget.hpp"

namespace ltxguard::model {

// One rule for the reserve: the budget's. A filesystem holding just this database, with
// nothing staged, gives the reserve term the preflight would print for it.
Reserve app_reserve(uint64_t filesystem_total_bytes, uint32_t page_size_bytes, const formats::Policy& policy) {
  BudgetInput in;
  in.policy = policy;
  FilesystemInput fs;
  fs.dev = 1;
  fs.mount = "/";
  fs.total_bytes = fs.free_bytes = fs.avail_bytes = filesystem_total_bytes;
  in.filesystems.push_back(fs);
  DatabaseInput db;
  db.db_path = "db";
  db.header_valid = page_size_bytes != 0;
  db.page_size_bytes = page_size_bytes;
  db.db_fs_dev = db.meta_fs_dev = 1;
  db.model = LitestreamModel::v0_5;
  in.databases.push_back(db);

  Reserve r;
  auto result = compute_budget(in);
  if (!result) {
    // The policy cannot hold on this filesystem (e.g. reserve_bytes larger than it): say so,
    // and keep the explicit value the operator asked for.
    r.bytes = policy.reserve_bytes.value_or(filesystem_total_bytes);
    r.detail = result.error().message;
    return r;
  }
  for (const auto& f : result->filesystems) {
    for (const auto& t : f.terms) {
      if (t.label == "reserve") {
        r.bytes = static_cast<uint64_t>(std::max<int64_t>(0, t.bytes));
        r.detail = t.reason;
      }
    }
  }
  r.app_wal_headroom_bytes = app_wal_headroom_bytes(filesystem_total_bytes, page_size_bytes, policy);
  return r;
}

}  // namespace ltxguard::model
