// Data-parallel runs under Debian's OpenMPI, end to end through the CLI:
// 2 ranks train the weights 1 rank trains with the same global batch; a rank
// killed mid-run stops the job and --resume continues from the checkpoint;
// sharded embedding writes what 1 rank writes; and a SIGKILLed embedding of
// one 5,000-object partition resumes inside that partition.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "astrofm/fsutil.h"
#include "astrofm/mmu.h"
#include "astrofm/model_file.h"
#include "testutil.h"

namespace astrofm {
namespace {

namespace fs = std::filesystem;
using test::run_cli;

bool have_mpirun() { return std::system("command -v mpirun >/dev/null 2>&1") == 0; }

// CI installs OpenMPI (scripts/install-deps.sh): there these tests run.
#ifdef ASTROFM_TEST_WITH_MPI
#define ASTROFM_REQUIRE_MPI() \
  do {                        \
    if (!have_mpirun()) GTEST_SKIP() << "needs mpirun (apt-get install openmpi-bin)"; \
  } while (0)
#else
#define ASTROFM_REQUIRE_MPI() GTEST_SKIP() << "astrofm was built without MPI (apt-get install libopenmpi-dev openmpi-bin)"
#endif

// mpirun as CI and a laptop allow: more ranks than cores, as root in containers.
test::CliResult run_mpi(int ranks, const std::string& args) {
  std::string cmd = fmt::format("mpirun -np {} --oversubscribe --allow-run-as-root --mca btl self,tcp --mca btl_tcp_if_include lo {} {} 2>&1",
                                ranks, ASTROFM_BIN, args);
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), out};
}

std::string write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

double max_tensor_diff(const ModelFile& a, const ModelFile& b, const std::string& skip_suffix, std::string* worst) {
  EXPECT_EQ(a.tensors.size(), b.tensors.size());
  double m = 0;
  for (const auto& t : a.tensors) {
    if (!skip_suffix.empty() && t.name.size() >= skip_suffix.size() &&
        t.name.compare(t.name.size() - skip_suffix.size(), skip_suffix.size(), skip_suffix) == 0)
      continue;
    const StoredTensor* u = b.find(t.name);
    if (!u || t.dtype != TensorDType::F32) continue;
    auto x = t.bytes(), y = u->bytes();
    EXPECT_EQ(x.size(), y.size()) << t.name;
    const float* fx = reinterpret_cast<const float*>(x.data());
    const float* fy = reinterpret_cast<const float*>(y.data());
    double mt = 0;
    for (size_t i = 0; i < x.size() / 4; ++i) mt = std::max(mt, static_cast<double>(std::abs(fx[i] - fy[i])));
    if (std::getenv("ASTROFM_TEST_DIFFS")) std::printf("  %-50s %.3g\n", t.name.c_str(), mt);
    if (mt > m) m = mt, *worst = t.name;
  }
  return m;
}

class Mpi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir;
    auto r = run_cli("-q simulate --objects 300 --seed 5 --image-size 64 --spectrum-step 20 --out " + dir_->path("sim"));
    ASSERT_EQ(r.rc, 0) << r.out;
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string sim() { return dir_->path("sim"); }
  static test::TempDir* dir_;
};
test::TempDir* Mpi::dir_ = nullptr;

// The global batch of 16 is 2 ranks x 8 or 1 rank x 2 accumulated micro-batches
// of 8: the same rows, the same random masks, so the same weights up to the
// order of float sums (tolerance 1e-6 after 4 AdamW steps at lr 0.01; measured 6e-8).
TEST_F(Mpi, TwoRanksTrainTheWeightsOfOneRankWithTheSameGlobalBatch) {
  ASTROFM_REQUIRE_MPI();
  test::TempDir tmp;
  const std::string model = R"("model": {"embed_dim": 16, "num_layers": 1, "num_heads": 2, "max_len": 40})";
  auto one = write(tmp.path("one.json"), "{" + model + R"(, "steps": 4, "batch": 16, "accumulate": 2, "warmup": 0, "lr": 0.01, "val_every": 100})");
  auto two = write(tmp.path("two.json"), "{" + model + R"(, "steps": 4, "batch": 16, "accumulate": 1, "warmup": 0, "lr": 0.01, "val_every": 100})");
  auto r1 = run_cli("-q train spectrum-mm --data " + sim() + " --config " + one + " --out " + tmp.path("one.afm"));
  ASSERT_EQ(r1.rc, 0) << r1.out;
  auto r2 = run_mpi(2, "-q train spectrum-mm --data " + sim() + " --config " + two + " --out " + tmp.path("two.afm"));
  ASSERT_EQ(r2.rc, 0) << r2.out;
  std::string worst;
  auto one_m = ModelFile::read(tmp.path("one.afm")), two_m = ModelFile::read(tmp.path("two.afm"));
  // Measured: every weight within 6e-8, except the fused query/key/value bias,
  // whose key part has no gradient at all (softmax ignores a shift): AdamW
  // turns its float noise into steps, 9e-5 here.
  double d = max_tensor_diff(one_m, two_m, "attention.attention.bias", &worst);
  EXPECT_LT(d, 1e-6) << worst;
  EXPECT_LT(max_tensor_diff(one_m, two_m, "", &worst), 1e-3) << worst;
  std::printf("1 rank x 2 micro-batches vs 2 ranks: max |weight difference| %.3g (%s)\n", d, worst.c_str());
  // A different global batch (no accumulation on 1 rank) trains other weights: the comparison can fail.
  auto r3 = run_cli("-q train spectrum-mm --data " + sim() + " --config " + two + " --out " + tmp.path("plain.afm"));
  ASSERT_EQ(r3.rc, 0) << r3.out;
  EXPECT_GT(max_tensor_diff(one_m, ModelFile::read(tmp.path("plain.afm")), "attention.attention.bias", &worst), 1e-2);
}

// Batch norm and contrastive negatives stay within each rank's micro-batch
// (as with accumulation on one rank): the weights agree; the running
// statistics are averaged over ranks, so they are compared more loosely.
TEST_F(Mpi, TwoRanksTrainSimclrAsOneRankAccumulating) {
  ASTROFM_REQUIRE_MPI();
  test::TempDir tmp;
  const std::string rest = R"("steps": 3, "batch": 16, "val_every": 100, "model": {"img_size": 64, "widths": [8, 16]})";
  auto one = write(tmp.path("one.json"), "{" + rest + R"(, "accumulate": 2})");
  auto two = write(tmp.path("two.json"), "{" + rest + "}");
  auto r1 = run_cli("-q train simclr --data " + sim() + " --config " + one + " --out " + tmp.path("one.afm"));
  ASSERT_EQ(r1.rc, 0) << r1.out;
  auto r2 = run_mpi(2, "-q train simclr --data " + sim() + " --config " + two + " --out " + tmp.path("two.afm"));
  ASSERT_EQ(r2.rc, 0) << r2.out;
  auto a = ModelFile::read(tmp.path("one.afm")), b = ModelFile::read(tmp.path("two.afm"));
  std::string worst;
  // Parameters: every tensor but the running statistics.
  std::erase_if(a.tensors, [](const StoredTensor& t) { return t.name.find("running_") != std::string::npos; });
  std::erase_if(b.tensors, [](const StoredTensor& t) { return t.name.find("running_") != std::string::npos; });
  EXPECT_LT(max_tensor_diff(a, b, "", &worst), 1e-4) << worst;
}

// A rank killed with SIGKILL ends the whole job (mpirun names it) and
// --resume continues from the last checkpoint.
TEST_F(Mpi, AKilledRankStopsTheJobAndResumeContinues) {
  ASTROFM_REQUIRE_MPI();
  test::TempDir tmp;
  auto cfg = write(tmp.path("c.json"), R"({"model": {"embed_dim": 16, "num_layers": 1, "num_heads": 2, "max_len": 40},
    "steps": 5000, "batch": 8, "val_every": 100000, "checkpoint_every": 3})");
  std::string out = tmp.path("m.afm");
  // Rank 1 kills itself once rank 0 has written a checkpoint.
  std::string killer = fmt::format(
      "sh -c 'if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then (while [ ! -f {0}.ckpt/state.json ]; do sleep 0.05; done; kill -9 $$) & fi; "
      "exec {1} -q train spectrum-mm --data {2} --config {3} --out {0}'",
      out, ASTROFM_BIN, sim(), cfg);
  std::string cmd = "mpirun -np 2 --oversubscribe --allow-run-as-root --mca btl self,tcp --mca btl_tcp_if_include lo " + killer + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string log;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) log.append(buf, n);
  int st = pclose(p);
  EXPECT_NE(WEXITSTATUS(st), 0) << log;
  EXPECT_NE(log.find("signal 9"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(out));
  ASSERT_TRUE(fs::exists(out + ".ckpt/state.json")) << log;
  int64_t at = nlohmann::json::parse(read_file(out + ".ckpt/state.json"))["step"];
  EXPECT_GT(at, 0);
  auto r = run_mpi(2, "train spectrum-mm --data " + sim() + " --config " + cfg + " --out " + out + " --resume");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find(fmt::format("resuming spectrum-mm at step {}", at)), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(out));
}

// Ranks own HEALPix partitions; the published catalogue is the one 1 rank writes.
TEST_F(Mpi, ShardedEmbeddingWritesWhatOneRankWrites) {
  ASTROFM_REQUIRE_MPI();
  test::TempDir tmp;
  auto r1 = run_cli("-q embed --model galaxy-cnn-ssl --data " + sim() + " --out " + tmp.path("one"));
  ASSERT_EQ(r1.rc, 0) << r1.out;
  auto r2 = run_mpi(2, "embed --model galaxy-cnn-ssl --data " + sim() + " --out " + tmp.path("two"));
  ASSERT_EQ(r2.rc, 0) << r2.out;
  EXPECT_NE(r2.out.find("embedded 300 objects"), std::string::npos) << r2.out;
  EXPECT_FALSE(fs::exists(tmp.path("two.partial")));
  auto a = Dataset::open(tmp.path("one")), b = Dataset::open(tmp.path("two"));
  ASSERT_EQ(a.partitions().size(), b.partitions().size());
  ASSERT_GT(a.partitions().size(), 1u);
  Table ta = read_table(tmp.path("one")), tb = read_table(tmp.path("two"));
  ASSERT_EQ(ta.rows(), 300);
  ASSERT_EQ(tb.rows(), 300);
  EXPECT_EQ(ta.at(mmu::kObjectId).strings, tb.at(mmu::kObjectId).strings);  // same partitions, same order
  auto ea = ta.at("embedding_image").values<float>();
  auto eb = tb.at("embedding_image").values<float>();
  ASSERT_EQ(ea.size(), eb.size());
  double d = 0;
  for (size_t i = 0; i < ea.size(); ++i) d = std::max(d, static_cast<double>(std::abs(ea[i] - eb[i])));
  EXPECT_LT(d, 1e-4);  // 1 thread per rank vs 2 threads: float sums in another order
}

// Tokenization shares the same sharded stream: 2 ranks, the same tokens.
TEST_F(Mpi, ShardedTokenizationWritesWhatOneRankWrites) {
  ASTROFM_REQUIRE_MPI();
  test::TempDir tmp;
  ASSERT_GT(Dataset::open(sim()).partitions().size(), 2u);
  auto r = run_cli("tokenize --codecs codecs-scalar codec-image --data " + sim() + " --out " + tmp.path("one"));
  ASSERT_EQ(r.rc, 0) << r.out;
  r = run_mpi(2, "-q tokenize --codecs codecs-scalar codec-image --data " + sim() + " --out " + tmp.path("two"));
  ASSERT_EQ(r.rc, 0) << r.out;
  Table a = read_table(tmp.path("one")), b = read_table(tmp.path("two"));
  ASSERT_EQ(a.rows(), b.rows());
  EXPECT_EQ(a.names(), b.names());
  for (const auto& c : a.columns()) {
    if (c.dtype == DType::String) EXPECT_EQ(c.strings, b.at(c.name).strings) << c.name;
    else EXPECT_EQ(c.data, b.at(c.name).data) << c.name;
  }
}

// A job killed with SIGKILL at ~70% of one 5,000-object partition resumes from
// its last checkpoint (every --checkpoint-rows objects), inside the partition:
// nothing lost, nothing written twice.
// Starts `astrofm -q <args><out>` and SIGKILLs it once its last checkpoint covers
// `until` input rows; returns the rows that checkpoint covers.
int64_t kill_after_checkpoint(const std::string& args, const std::string& out, int64_t until) {
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1), dup2(null, 2);
    std::string cmd = std::string(ASTROFM_BIN) + " -q " + args + out;
    execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::string progress = out + ".partial/_astrofm_progress.json";
  int64_t done = 0;
  for (int i = 0; i < 6000 && done < until; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (fs::exists(progress)) {
      auto j = nlohmann::json::parse(read_file(progress), nullptr, false);
      if (!j.is_discarded()) done = nlohmann::json::parse(j["state"].get<std::string>())["rows"];
    }
    int st = 0;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      ADD_FAILURE() << "the job ended before it could be killed";
      return -1;
    }
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return done;
}

// Resumes the killed job and checks every object is there once, bit for bit as a straight run.
void resume_and_compare(const test::TempDir& tmp, const std::string& args, int64_t done) {
  ASSERT_FALSE(fs::exists(tmp.path("emb")));
  auto r = test::run_cli_logged(args + tmp.path("emb") + " --resume");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find(fmt::format("resuming at input row {} of 5000", done)), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(fmt::format("embedded {} objects into", 5000 - done)), std::string::npos) << r.out;
  // Every object once, in the input's order.
  Table a = read_table(tmp.path("emb")), in = read_table(tmp.path("one"), {mmu::kObjectId});
  ASSERT_EQ(a.rows(), 5000);
  EXPECT_EQ(a.at(mmu::kObjectId).strings, in.at(mmu::kObjectId).strings);
  std::set<std::string> ids(a.at(mmu::kObjectId).strings.begin(), a.at(mmu::kObjectId).strings.end());
  EXPECT_EQ(ids.size(), 5000u);
  // Rows on both sides of the checkpoint are what an uninterrupted run writes, bit for bit.
  r = run_cli(args + tmp.path("ref"));
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(a.at("embedding_image").data, read_table(tmp.path("ref")).at("embedding_image").data);
}

void simulate_one_partition(const test::TempDir& tmp) {
  auto r = run_cli("-q simulate --objects 5000 --seed 9 --image-size 64 --no-spectra --region 284.5,285.5,62.95,63.95 --out " + tmp.path("one"));
  ASSERT_EQ(r.rc, 0) << r.out;
  ASSERT_EQ(Dataset::open(tmp.path("one")).partitions().size(), 1u);
}

TEST(StreamResume, SigkillInsideOnePartitionResumesFromTheLastCheckpoint) {
  test::TempDir tmp;
  simulate_one_partition(tmp);
  const std::string args = "embed --model galaxy-cnn-ssl --batch 100 --checkpoint-rows 500 --data " + tmp.path("one") + " --out ";
  // Killed once a checkpoint past 70% is on disk.
  int64_t done = kill_after_checkpoint(args, tmp.path("emb"), 3500);
  ASSERT_GE(done, 3500);
  ASSERT_LT(done, 5000);
  resume_and_compare(tmp, args, done);
}

TEST(StreamResume, CheckpointsByTimeWhenRowsAreFar) {
  // Rows between checkpoints never reached: only the clock checkpoints, so a
  // SIGKILL loses at most --checkpoint-seconds of work.
  test::TempDir tmp;
  simulate_one_partition(tmp);
  const std::string args =
      "embed --model galaxy-cnn-ssl --batch 100 --checkpoint-rows 100000 --checkpoint-seconds 0.5 --data " + tmp.path("one") + " --out ";
  int64_t done = kill_after_checkpoint(args, tmp.path("emb"), 1);
  ASSERT_GE(done, 100);
  ASSERT_LT(done, 5000);
  resume_and_compare(tmp, args, done);
}

}  // namespace
}  // namespace astrofm
