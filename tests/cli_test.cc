// The CLI as a user meets it: exit codes, messages, interruption and resume.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "astrofm/mmu.h"
#include <nlohmann/json.hpp>

#include "testutil.h"

namespace astrofm {
namespace {

using test::run_cli;

TEST(Cli, HelpAndUsageExitCodes) {
  EXPECT_EQ(run_cli("--help").rc, 0);
  for (const char* sub : {"info", "validate", "import", "import csv", "import images", "import fits-cutout", "import desi",
                          "import sdss", "xmatch", "simulate"}) {
    auto r = run_cli(std::string(sub) + " --help");
    EXPECT_EQ(r.rc, 0) << sub;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << sub;
  }
  EXPECT_EQ(run_cli("").rc, 2);
  EXPECT_EQ(run_cli("frobnicate").rc, 2);
  EXPECT_EQ(run_cli("simulate --objects 10").rc, 2);  // --out missing
  EXPECT_EQ(run_cli("xmatch a b --radius -1 --out x").rc, 2);
}

TEST(Cli, BadInputIsOneMessageAndExitOne) {
  test::TempDir tmp;
  std::ofstream(tmp.path("bad.csv")) << "a,b\n1,2\n3,4,5\n";
  auto r = run_cli("import csv " + tmp.path("bad.csv") + " --out " + tmp.path("o"));
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("bad.csv: line 3: 3 fields, the header has 2"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(tmp.path("o")));
  r = run_cli("info " + tmp.path("nothing"));
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("no such file"), std::string::npos) << r.out;
}

TEST(Cli, InfoValidateOnAnImport) {
  test::TempDir tmp;
  ASSERT_EQ(run_cli("import desi " + test::sample_dir() + "/desi_spectra_fixtures/coadd-4-80613-thru20210324.fits --out " +
                    tmp.path("d")).rc, 0);
  auto r = run_cli("info " + tmp.path("d") + " --json");
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("\"objects\": 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("spectrum_flux"), std::string::npos);
  // The modality table's view of the columns: the spectrum and Redrock's scalars.
  auto j = nlohmann::json::parse(r.out.substr(r.out.find('{')));
  std::vector<std::string> mods;
  for (const auto& m : j["modalities"]) mods.push_back(m["name"]);
  ASSERT_FALSE(mods.empty()) << r.out;
  EXPECT_EQ(mods[0], "spectrum");
  EXPECT_NE(std::find(mods.begin(), mods.end(), "Z"), mods.end()) << r.out;
  r = run_cli("info " + tmp.path("d"));
  EXPECT_NE(r.out.find("modalities spectrum (spectrum)"), std::string::npos) << r.out;
  r = run_cli("validate " + tmp.path("d"));
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("valid"), std::string::npos);
}

// SIGINT mid-run, then --resume: the result equals an uninterrupted run.
TEST(Cli, SimulateInterruptedThenResumedEqualsStraightRun) {
  test::TempDir tmp;
  std::string common = " simulate --objects 1500 --seed 4 --image-size 16 --spectrum-step 20 --checkpoint-every 128 --threads 1";
  ASSERT_EQ(run_cli(common + " --out " + tmp.path("straight")).rc, 0);
  pid_t pid = fork();
  if (pid == 0) {
    std::string out = tmp.path("resumed");
    execl(ASTROFM_BIN, ASTROFM_BIN, "-q", "simulate", "--objects", "1500", "--seed", "4", "--image-size", "16",
          "--spectrum-step", "20", "--checkpoint-every", "128", "--threads", "1", "--out", out.c_str(), nullptr);
    _exit(127);
  }
  // Wait for the first checkpoint, then interrupt.
  auto t0 = std::chrono::steady_clock::now();
  while (!std::filesystem::exists(tmp.path("resumed.partial/_astrofm_progress.json")) &&
         std::chrono::steady_clock::now() - t0 < std::chrono::seconds(60))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  kill(pid, SIGINT);
  int st = 0;
  waitpid(pid, &st, 0);
  ASSERT_TRUE(WIFEXITED(st));
  if (WEXITSTATUS(st) == 0) GTEST_SKIP() << "the run finished before the interrupt landed";
  EXPECT_EQ(WEXITSTATUS(st), 1);
  EXPECT_FALSE(std::filesystem::exists(tmp.path("resumed")));
  EXPECT_TRUE(std::filesystem::exists(tmp.path("resumed.partial")));
  auto r = run_cli(common + " --out " + tmp.path("resumed") + " --resume");
  ASSERT_EQ(r.rc, 0) << r.out;
  Dataset a = Dataset::open(tmp.path("straight")), b = Dataset::open(tmp.path("resumed"));
  ASSERT_EQ(a.rows(), b.rows());
  ASSERT_EQ(a.partitions().size(), b.partitions().size());
  for (size_t p = 0; p < a.partitions().size(); ++p) {
    Table ta = read_rows(a, p, 0, a.partitions()[p].rows);
    Table tb = read_rows(b, p, 0, b.partitions()[p].rows);
    for (const auto& c : ta.columns()) {
      EXPECT_EQ(c.data, tb.at(c.name).data) << c.name;
      EXPECT_EQ(c.strings, tb.at(c.name).strings) << c.name;
    }
  }
  // A resume with different settings is refused.
  r = run_cli(common + " --out " + tmp.path("other") + " --resume");
  EXPECT_EQ(r.rc, 0);
}

TEST(Cli, XmatchSimulatedWithItsOwnImport) {
  test::TempDir tmp;
  ASSERT_EQ(run_cli("simulate --objects 300 --no-images --no-spectra --region 10,11,0,1 --out " + tmp.path("s")).rc, 0);
  auto r = run_cli("xmatch " + tmp.path("s") + " " + tmp.path("s") + " --prefix a_,b_ --radius 0.5 --out " + tmp.path("x"));
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(Dataset::open(tmp.path("x")).rows(), 300);
  r = run_cli("xmatch " + tmp.path("s") + " " + tmp.path("s") + " --radius 0.5 --out " + tmp.path("y"));
  EXPECT_EQ(r.rc, 2) << r.out;  // both inputs share the config name: prefixes clash
}

}  // namespace
}  // namespace astrofm
