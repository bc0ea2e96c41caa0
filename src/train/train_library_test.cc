// Training as a library: rows, settings and the model in memory, and the
// options each task declares for itself (and the command line built from them).
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "astrofm/config.h"
#include "astrofm/error.h"
#include "astrofm/mmu.h"
#include "astrofm/train.h"
#include "train_test_util.h"

namespace astrofm {
namespace {
using test::sim;
using test::write_config;

// Training as a library: rows, labels and settings in memory, the model back
// as bytes; the same seed gives the same model as the file job, and nothing
// is written anywhere (the temporary directory stays empty).
TEST(Train, InMemoryRunEqualsTheFileJobAndWritesNothing) {
  test::TempDir tmp;
  std::string data = sim(tmp);
  const std::string settings = R"({"model": {"img_size": 16, "widths": [8, 16]}, "steps": 6, "batch": 16, "warmup": 2,
    "checkpoint_every": 2})";
  std::string cfg = write_config(tmp, "sup.json", settings);
  train_model({.task = "supervised", .data = {data}, .config = cfg, .out = tmp.path("z.afm"), .task_options = {{"target", {"Z"}}}});
  auto rows = std::make_shared<Table>(read_table(data, {mmu::kObjectId, mmu::kImageArray, mmu::kImageBand, "Z"}));
  test::TempDir scratch;
  const char* old_tmp = std::getenv("TMPDIR");
  setenv("TMPDIR", scratch.path().c_str(), 1);
  auto r = train_model({.task = "supervised", .data = {data}, .table = rows, .settings = settings, .task_options = {{"target", {"Z"}}}});
  auto mem = predict_supervised(r.model, *rows, "in memory");
  old_tmp ? setenv("TMPDIR", old_tmp, 1) : unsetenv("TMPDIR");
  EXPECT_TRUE(std::filesystem::is_empty(scratch.path()));
  ASSERT_FALSE(r.model.empty());
  auto file = predict_supervised(tmp.path("z.afm"), data);
  ASSERT_EQ(mem.values.size(), file.values.size());
  EXPECT_EQ(mem.ids, file.ids);
  for (size_t i = 0; i < mem.values.size(); ++i) EXPECT_DOUBLE_EQ(mem.values[i], file.values[i]) << i;
  // A table without the task's columns is one error naming the column.
  auto bare = std::make_shared<Table>(rows->take({0, 1, 2}));
  bare->remove("Z");
  try {
    train_model({.task = "supervised", .data = {data}, .table = bare, .settings = settings, .task_options = {{"target", {"Z"}}}});
    ADD_FAILURE() << "trained without its target column";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'Z'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(train_model({.task = "supervised", .table = rows, .settings = settings, .task_options = {{"target", {"Z"}}}, .resume = true}),
               UsageError);
}

// Tasks declare their options: another task's option, a missing required one
// or two values for a single one are usage errors naming the flag.
TEST(Train, TasksDeclareTheirOwnOptions) {
  test::TempDir tmp;
  std::string data = sim(tmp);
  auto message = [&](TrainOptions o) {
    o.data = {data}, o.out = tmp.path("x.afm");
    try {
      train_model(o);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({.task = "simclr", .task_options = {{"target", {"Z"}}}}).find("--target is not an option of task 'simclr'"),
            std::string::npos);
  EXPECT_NE(message({.task = "supervised"}).find("--target is required"), std::string::npos);
  EXPECT_NE(message({.task = "supervised", .task_options = {{"target", {"Z", "ra"}}}}).find("--target: one value, got 2"), std::string::npos);
  EXPECT_NE(message({.task = "aion"}).find("--codecs is required"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(tmp.path("x.afm")));
  // Every file under src/train/tasks/ is a registered task: the file is all a new task needs.
  std::set<std::string> registered;
  for (const auto& t : training_tasks()) {
    registered.insert(t.name);
    for (const auto& o : t.options) EXPECT_FALSE(o.help.empty()) << t.name << " --" << o.name;
  }
  size_t files = 0;
  for (const auto& f : std::filesystem::directory_iterator(std::string(ASTROFM_SOURCE_DIR) + "/src/train/tasks")) {
    std::string stem = f.path().stem().string();
    std::replace(stem.begin(), stem.end(), '_', '-');
    ++files;
    if (registered.count(stem)) continue;
    ADD_FAILURE() << f.path() << " is not a registered task";
  }
  EXPECT_EQ(registered.size(), files);  // and no task without its file
  EXPECT_TRUE(registered.count("simmim"));
}

TEST(Train, EveryRegisteredTaskIsInTheCommandLine) {
  // `astrofm train --help` lists and accepts what the task table holds: a
  // task is its own file, with no CLI edit.
  auto help = test::run_cli("train --help");
  ASSERT_EQ(help.rc, 0) << help.out;
  auto tasks = training_tasks();
  ASSERT_GE(tasks.size(), 8u);
  for (const auto& task : tasks) {
    EXPECT_NE(help.out.find(task.name + ": " + task.description), std::string::npos) << task.name;
    // Its own options are flags too, with the help the task file gives.
    for (const auto& o : task.options) {
      EXPECT_NE(help.out.find("--" + o.name), std::string::npos) << task.name << " --" << o.name;
      EXPECT_NE(help.out.find(o.help.substr(0, 20)), std::string::npos) << task.name << " --" << o.name;
    }
    auto r = test::run_cli("train " + task.name + " --data /nonexistent --out /nonexistent/x.afm");
    EXPECT_EQ(r.out.find("not in {"), std::string::npos) << task.name << ": " << r.out;  // CLI11's "not in the set" refusal
  }
  // Another task's option is refused by name, before any data is read.
  auto other = test::run_cli("train simclr --target Z --data /nonexistent --out /nonexistent/x.afm");
  EXPECT_EQ(other.rc, 2) << other.out;
  EXPECT_NE(other.out.find("--target is not an option of task 'simclr'"), std::string::npos) << other.out;
  auto r = test::run_cli("train no-such-task --data /x --out /y.afm");
  EXPECT_EQ(r.rc, 2) << r.out;
}

}  // namespace
}  // namespace astrofm
