// The real `pushpull` binary as a child process: I/O failures end with exit 3 and a message naming the file (never a
// crash); SIGINT / SIGTERM / SIGKILL at arbitrary moments leave a `.partial` file that opens and holds exactly its
// `completed_rows` rows of an uninterrupted run; -resume then produces datasets identical to that run's.
#define BOOST_TEST_MODULE interrupt
#include <boost/test/unit_test.hpp>

#include <hdf5.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "pushpull/io.hpp"
#include "pushpull/row_matrix.hpp"
#include "pushpull/mlp.hpp"

using namespace pushpull;
namespace fs = std::filesystem;

namespace {

const std::string kBinary = PUSHPULL_TEST_BINARY_DIR "/pushpull";

struct Child {
  pid_t pid = -1;
  std::string err_file;
};

// Starts the binary with `args`; stderr goes to `err_file`. `file_size_limit` > 0: RLIMIT_FSIZE with SIGXFSZ
// ignored, so that writes past it fail with EFBIG as on a full disk.
Child Start(const std::vector<std::string>& args, const std::string& err_file, rlim_t file_size_limit = 0) {
  Child c;
  c.err_file = err_file;
  c.pid = fork();
  BOOST_REQUIRE(c.pid >= 0);
  if (c.pid == 0) {
    if (file_size_limit > 0) {
      signal(SIGXFSZ, SIG_IGN);
      rlimit limit{file_size_limit, file_size_limit};
      setrlimit(RLIMIT_FSIZE, &limit);
    }
    if (!freopen(err_file.c_str(), "w", stderr)) _exit(120);
    if (!freopen("/dev/null", "w", stdout)) _exit(120);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(kBinary.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(kBinary.c_str(), argv.data());
    _exit(121);
  }
  return c;
}

struct Exit {
  bool exited = false;  // false: killed by a signal
  int code = -1;        // exit code, or the signal
  std::string err;
};

Exit Wait(const Child& c) {
  int status = 0;
  waitpid(c.pid, &status, 0);
  Exit e;
  e.exited = WIFEXITED(status);
  e.code = e.exited ? WEXITSTATUS(status) : WTERMSIG(status);
  std::ifstream in(c.err_file);
  std::stringstream ss;
  ss << in.rdbuf();
  e.err = ss.str();
  return e;
}

// Waits until `file` exists or the child has exited (then false).
bool AwaitFile(const Child& c, const std::string& file) {
  while (!fs::exists(file)) {
    if (waitpid(c.pid, nullptr, WNOHANG) == c.pid) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

Exit RunToEnd(const std::vector<std::string>& args, const std::string& err_file, rlim_t limit = 0) {
  return Wait(Start(args, err_file, limit));
}

// Every dataset of a file: name -> (raw float64 bytes of the values, or the strings joined with '\0').
std::map<std::string, std::string> ReadAll(const std::string& file) {
  std::map<std::string, std::string> out;
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  BOOST_REQUIRE_MESSAGE(f >= 0, "cannot open " << file);
  std::vector<std::string> names;
  H5Ovisit2(
      f, H5_INDEX_NAME, H5_ITER_INC,
      [](hid_t, const char* name, const H5O_info_t* info, void* data) -> herr_t {
        if (info->type == H5O_TYPE_DATASET) static_cast<std::vector<std::string>*>(data)->push_back(name);
        return 0;
      },
      &names, H5O_INFO_BASIC);
  H5Fclose(f);
  for (const auto& n : names) {
    const DatasetName dn{file, "/" + n};
    hid_t ff = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(ff, ("/" + n).c_str(), H5P_DEFAULT);
    hid_t t = H5Dget_type(d);
    const bool is_string = H5Tget_class(t) == H5T_STRING;
    H5Tclose(t);
    H5Dclose(d);
    H5Fclose(ff);
    std::string bytes;
    if (is_string) {
      for (const auto& s : ReadStrings(dn)) bytes += s + '\0';
    } else {
      ArraySpec spec;
      spec.ranks = {1, 2, 3};
      spec.require_finite = false;
      const Array a = ReadArray(dn, spec);
      bytes.assign(reinterpret_cast<const char*>(a.data.data()), a.data.size() * sizeof(double));
      bytes += "|shape";
      for (auto s : a.shape) bytes += " " + std::to_string(s);
    }
    out["/" + n] = bytes;
  }
  return out;
}

// The first `rows` of every dataset of `ref` with `total` rows, for comparison with a partial file's prefix.
std::string RowPrefix(const std::string& file, const std::string& name, std::size_t rows, std::size_t total) {
  const DatasetName dn{file, name};
  if (name == "/status_message") {
    std::string bytes;
    const auto s = ReadStrings(dn);
    const std::size_t row = s.size() / total;
    for (std::size_t i = 0; i < rows * row; ++i) bytes += s[i] + '\0';
    return bytes;
  }
  ArraySpec spec;
  spec.ranks = {1, 2, 3};
  spec.require_finite = false;
  const Array a = ReadArray(dn, spec);
  const std::size_t row = a.data.size() / total;
  return std::string(reinterpret_cast<const char*>(a.data.data()), rows * row * sizeof(double));
}

// A small flow model and data points: a density run of a few hundred ms to a few seconds.
struct Fixture {
  std::string dir = "interrupt_work";
  std::string model, points;
  Fixture() {
    fs::create_directories(dir);
    model = dir + "/flow.h5";
    fs::remove(model);
    Mlp v = RandomMlp(6, 6, {48, 48}, TimeInput::kConcat, Activation::kTanh, 11, 0.9);
    v.base_time = 0;
    WriteMlp(model, "/velocity", v);
    points = dir + "/points.h5";
    RowMatrixXd p(240, 6);
    std::mt19937_64 rng(5);
    std::normal_distribution<double> normal;
    for (Eigen::Index i = 0; i < p.size(); ++i) p.data()[i] = normal(rng);
    hid_t f = H5Fcreate(points.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[2] = {240, 6};
    hid_t s = H5Screate_simple(2, dims, nullptr);
    hid_t d = H5Dcreate2(f, "/points", H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, p.data());
    H5Dclose(d);
    H5Sclose(s);
    H5Fclose(f);
  }
  // Latent points of the sphere metric (stereographic coordinates): a distances run of about a second.
  std::string PointsOfSphere(std::size_t n) const {
    const std::string file = dir + "/sphere_points" + std::to_string(n) + ".h5";
    fs::remove(file);
    RowMatrixXd p(static_cast<Eigen::Index>(n), 2);
    std::mt19937_64 rng(8);
    std::normal_distribution<double> normal;
    for (Eigen::Index i = 0; i < p.size(); ++i) p.data()[i] = 0.8 * normal(rng);
    hid_t f = H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[2] = {n, 2};
    hid_t sp = H5Screate_simple(2, dims, nullptr);
    hid_t d = H5Dcreate2(f, "/points", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, p.data());
    H5Dclose(d);
    H5Sclose(sp);
    // The same points as pairs (P x 2 x 2: consecutive points) and as start points with velocities.
    const std::size_t P = n / 2;
    hsize_t pdims[3] = {P, 2, 2};
    sp = H5Screate_simple(3, pdims, nullptr);
    d = H5Dcreate2(f, "/pairs", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, p.data());
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
    return file;
  }
  std::vector<std::string> Density(const std::string& output, int threads) const {
    return {"density", "-model",  model, "-input", points + ":/points", "-output", output, "-batch_size", "4",
            "-ode_rtol", "1e-7", "-ode_atol", "1e-9", "-save_times", "0,0.5,1", "-kinetic", "-threads",
            std::to_string(threads)};
  }
};

std::int64_t CompletedRows(const std::string& file) { return ReadRootIntAttribute(file, "completed_rows"); }

}  // namespace

BOOST_AUTO_TEST_CASE(io_failures_end_with_exit_3_naming_the_file) {
  const Fixture fx;
  // The file size limit (a full disk without root): every limit fails at a different write.
  for (const rlim_t limit : {rlim_t{2048}, rlim_t{16384}, rlim_t{65536}}) {
    const std::string out = fx.dir + "/fsize_" + std::to_string(limit) + ".h5";
    const Exit e = RunToEnd(fx.Density(out, 2), fx.dir + "/fsize.err", limit);
    BOOST_TEST_MESSAGE("limit " << limit << ": " << e.err);
    BOOST_TEST(e.exited, "killed by signal " << e.code << " at file size limit " << limit);
    BOOST_TEST(e.code == 3);
    BOOST_TEST(e.err.find(out + ".partial") != std::string::npos);
    BOOST_TEST(e.err.find("File too large") != std::string::npos);
  }
  // The output directory removed while the run writes: the final rename fails.
  {
    const std::string sub = fx.dir + "/vanishing";
    fs::create_directories(sub);
    const std::string out = sub + "/d.h5";
    const Child c = Start(fx.Density(out, 1), fx.dir + "/vanish.err");
    BOOST_REQUIRE(AwaitFile(c, out + ".partial"));
    fs::remove_all(sub);
    const Exit e = Wait(c);
    BOOST_TEST(e.exited);
    BOOST_TEST(e.code == 3);
    BOOST_TEST(e.err.find(out) != std::string::npos);
  }
  // A directory without write permission (not testable as root, who may write anywhere).
  if (geteuid() != 0) {
    const std::string sub = fx.dir + "/readonly";
    fs::create_directories(sub);
    chmod(sub.c_str(), 0555);
    const Exit e = RunToEnd(fx.Density(sub + "/d.h5", 1), fx.dir + "/ro.err");
    chmod(sub.c_str(), 0755);
    BOOST_TEST(e.exited);
    BOOST_TEST(e.code == 3);
    BOOST_TEST(e.err.find(sub + "/d.h5.partial") != std::string::npos);
    BOOST_TEST(e.err.find("Permission denied") != std::string::npos);
  }
}

// Runs `command(out, threads)` to the end once (the reference), then `runs` times kills it with SIGINT, SIGTERM or
// SIGKILL at a random moment: the partial file must hold exactly its completed_rows rows of the reference, and
// -resume (with the other thread count) must produce datasets identical to the reference's.
void KillAndResume(const Fixture& fx, const std::string& name, std::size_t rows, int runs,
                   const std::function<std::vector<std::string>(const std::string&, int)>& command,
                   const std::set<std::string>& not_by_row = {}) {
  const std::string ref = fx.dir + "/" + name + "_ref.h5";
  const auto t0 = std::chrono::steady_clock::now();
  const Exit r = RunToEnd(command(ref, 2), fx.dir + "/ref.err");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  BOOST_REQUIRE_MESSAGE(r.exited && r.code == 0, name << ": " << r.err);
  const auto reference = ReadAll(ref);

  std::mt19937 rng(2024);
  std::uniform_real_distribution<double> when(0.02, 0.6);
  const int signals[] = {SIGINT, SIGTERM, SIGKILL};
  int interrupted = 0, partial_rows = 0;
  for (int run = 0; run < runs; ++run) {
    const int sig = signals[run % 3];
    const std::string out = fx.dir + "/" + name + "_run" + std::to_string(run) + ".h5";
    fs::remove(out);
    fs::remove(out + ".partial");
    fs::remove(out + ".partial.resume");
    const Child c = Start(command(out, 1 + run % 2), fx.dir + "/run.err");
    std::this_thread::sleep_for(std::chrono::duration<double>(when(rng) * seconds));
    kill(c.pid, sig);
    const Exit e = Wait(c);
    BOOST_TEST_MESSAGE(name << " run " << run << " signal " << sig << ": " << (e.exited ? "exit " : "signal ")
                            << e.code << " " << e.err);
    if (e.exited && e.code == 0) {  // finished before the signal arrived
      BOOST_TEST((ReadAll(out) == reference));
      continue;
    }
    if (!fs::exists(out + ".partial")) {
      // Stopped before the output file was created (a signal before main() installed its handler ends the
      // process by the default action; after it, the run ends with 128 + signal).
      BOOST_TEST(((!e.exited && e.code == sig) || (e.exited && e.code == 128 + sig)));
      continue;
    }
    if (sig == SIGKILL) {
      BOOST_TEST((!e.exited && e.code == SIGKILL));
    } else {
      BOOST_TEST(e.exited);
      BOOST_TEST(e.code == 128 + sig);
    }
    ++interrupted;
    const std::int64_t K = CompletedRows(out + ".partial");
    BOOST_TEST((K >= 0 && K <= static_cast<std::int64_t>(rows)));
    partial_rows += K > 0 && K < static_cast<std::int64_t>(rows);
    if (sig != SIGKILL) {
      BOOST_TEST(e.err.find(std::to_string(K) + " of " + std::to_string(rows) + " rows complete") !=
                     std::string::npos,
                 e.err);
    }
    for (const auto& [dataset, bytes] : ReadAll(out + ".partial")) {
      if (!reference.count(dataset) || not_by_row.count(dataset)) continue;
      const std::string prefix = RowPrefix(ref, dataset, static_cast<std::size_t>(K), rows);
      BOOST_TEST((bytes.substr(0, prefix.size()) == prefix),
                 name << " run " << run << ": rows of " << dataset << " differ from the reference");
    }
    auto args = command(out, 2 - run % 2);
    args.push_back("-resume");
    const Exit resumed = RunToEnd(args, fx.dir + "/resume.err");
    BOOST_TEST(resumed.exited);
    BOOST_TEST(resumed.code == 0, resumed.err);
    BOOST_TEST(!fs::exists(out + ".partial"));
    BOOST_TEST(!fs::exists(out + ".partial.resume"));
    BOOST_TEST((ReadAll(out) == reference), name << " run " << run << ": the resumed result differs from the reference");
  }
  // How many runs the signals caught before they finished depends on the machine's load: reported, not asserted.
  BOOST_TEST_MESSAGE(name << ": " << interrupted << " of " << runs << " runs were interrupted before finishing, "
                          << partial_rows << " with some but not all rows complete");
}

BOOST_AUTO_TEST_CASE(killed_runs_keep_their_completed_rows_and_resume_to_the_same_result) {
  const Fixture fx;
  KillAndResume(fx, "density", 240, 12, [&](const std::string& out, int threads) { return fx.Density(out, threads); },
                {"/save_times", "/base_samples"});
}

BOOST_AUTO_TEST_CASE(killed_geodesic_commands_resume_to_the_same_result) {
  const Fixture fx;
  const std::string points = fx.PointsOfSphere(36);
  // distances: 630 pairs; the matrix rows complete in order, the triangle pass runs on the whole matrix.
  KillAndResume(fx, "distances", 36, 6, [&](const std::string& out, int threads) {
    return std::vector<std::string>{"distances", "-metric_type", "sphere", "-points", points + ":/points",
                                    "-output", out, "-threads", std::to_string(threads)};
  });
  KillAndResume(fx, "geodesic", 18, 4, [&](const std::string& out, int threads) {
    return std::vector<std::string>{"geodesic", "-metric_type", "sphere", "-pairs", points + ":/pairs", "-output",
                                    out, "-curve_samples", "5", "-threads", std::to_string(threads)};
  });
  const std::string starts = fx.PointsOfSphere(3000);  // exp maps take well under a millisecond each
  KillAndResume(fx, "exp", 3000, 4, [&](const std::string& out, int threads) {
    return std::vector<std::string>{"exp", "-metric_type", "sphere", "-points", starts + ":/points",
                                    "-velocities", starts + ":/points", "-output", out, "-curve_samples", "5",
                                    "-threads", std::to_string(threads)};
  });
}

BOOST_AUTO_TEST_CASE(resume_refuses_different_options_naming_the_option) {
  const Fixture fx;
  const std::string out = fx.dir + "/refuse.h5";
  fs::remove(out);
  fs::remove(out + ".partial");
  fs::remove(out + ".partial.resume");
  auto args = fx.Density(out, 1);
  args.push_back("-resume");
  Exit e = RunToEnd(args, fx.dir + "/refuse.err");
  BOOST_TEST(e.code == 2);
  BOOST_TEST(e.err.find(out + ".partial") != std::string::npos);
  // A partial file: a run stopped at once.
  const Child c = Start(fx.Density(out, 1), fx.dir + "/refuse.err");
  BOOST_REQUIRE(AwaitFile(c, out + ".partial"));
  kill(c.pid, SIGINT);
  e = Wait(c);
  if (e.code == 0) return;  // finished first: nothing to refuse
  for (auto& a : args) {
    if (a == "1e-7") a = "1e-6";
  }
  e = RunToEnd(args, fx.dir + "/refuse.err");
  BOOST_TEST(e.code == 2);
  BOOST_TEST(e.err.find("-ode_rtol 1e-07") != std::string::npos, e.err);
  BOOST_TEST(fs::exists(out + ".partial"));  // untouched
}
