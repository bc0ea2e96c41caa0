#include "astrofm/fsutil.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include "astrofm/error.h"

namespace astrofm {

void write_file_atomic(const fs::path& path, const std::string& content) {
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail_io("cannot write {}: {}", tmp.string(), std::strerror(errno));
    out << content;
    if (!out.flush()) fail_io("cannot write {}: disk full?", tmp.string());
  }
  fs::rename(tmp, path);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_io("cannot read {}: {}", path.string(), std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

StagedDir::StagedDir(fs::path dest, bool overwrite, bool resume)
    : dest_(std::move(dest)), overwrite_(overwrite) {
  if (dest_.empty()) fail_usage("output path is empty");
  dest_ = fs::absolute(dest_).lexically_normal();
  if (dest_.has_filename() == false) dest_ = dest_.parent_path();
  if (fs::exists(dest_) && !overwrite_)
    fail_input("output {} already exists (pass --overwrite to replace it)", dest_.string());
  staging_ = dest_;
  staging_ += ".partial";
  if (fs::exists(staging_)) {
    if (resume) {
      resumed_ = true;
      return;
    }
    fs::remove_all(staging_);
  }
  std::error_code ec;
  fs::create_directories(staging_, ec);
  if (ec) fail_input("cannot create {}: {}", staging_.string(), ec.message());
}

StagedDir::~StagedDir() {
  if (committed_ || keep_) return;
  std::error_code ec;
  fs::remove_all(staging_, ec);
}

namespace {
void replace_dir(const fs::path& from, const fs::path& dest, bool overwrite) {
  if (fs::exists(dest)) {
    if (!overwrite) fail_input("output {} appeared while writing; not replacing it", dest.string());
    fs::path old = dest;
    old += ".old";
    fs::remove_all(old);
    fs::rename(dest, old);
    fs::rename(from, dest);
    fs::remove_all(old);
  } else {
    fs::rename(from, dest);
  }
}
}  // namespace

void StagedDir::commit() {
  if (committed_) return;
  replace_dir(staging_, dest_, overwrite_);
  committed_ = true;
}

void StagedDir::commit_folder(const fs::path& built) {
  if (committed_) return;
  replace_dir(built, dest_, overwrite_);
  committed_ = true;
  std::error_code ec;
  fs::remove_all(staging_, ec);
}

}  // namespace astrofm
