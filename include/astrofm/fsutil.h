#pragma once
// Output that is never half-written: everything goes to a staging path next to
// the destination and is renamed into place only when complete.
// Thread-safety: functions are safe to call concurrently on distinct paths; a StagedDir belongs to
// one thread.
#include <filesystem>
#include <string>

namespace astrofm {

namespace fs = std::filesystem;

// Writes `content` to `path` via `path.tmp` + rename.
void write_file_atomic(const fs::path& path, const std::string& content);
std::string read_file(const fs::path& path);

// A directory built under `<dest>.partial` and renamed to `dest` by commit().
// If the job dies, the partial directory stays behind for --resume; if it is
// destroyed without commit() after an error, it is removed.
class StagedDir {
 public:
  // overwrite: replace an existing `dest` at commit time (otherwise refuse up front).
  // resume: keep an existing `<dest>.partial` instead of starting clean.
  StagedDir(fs::path dest, bool overwrite, bool resume = false);
  ~StagedDir();
  StagedDir(const StagedDir&) = delete;
  StagedDir& operator=(const StagedDir&) = delete;

  const fs::path& path() const { return staging_; }
  const fs::path& dest() const { return dest_; }
  bool resumed() const { return resumed_; }
  void commit();
  // Publishes `built`, a folder inside the staging directory, as `dest` (one
  // rename), then removes what is left of the staging directory.
  void commit_folder(const fs::path& built);
  // Keep the partial directory on destruction (an interrupted, resumable job).
  void keep_partial() { keep_ = true; }

 private:
  fs::path dest_, staging_;
  bool overwrite_;
  bool committed_ = false;
  bool keep_ = false;
  bool resumed_ = false;
};

}  // namespace astrofm
