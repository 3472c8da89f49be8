#define BOOST_TEST_MODULE cli
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/commands.hpp"
#include "pushpull/io.hpp"
#include "pushpull/mlp.hpp"

using namespace pushpull;

namespace {
struct Run {
  int code;
  std::string out, err;
};
Run Cli(std::vector<std::string> args) {
  args.insert(args.begin(), "pushpull");
  std::ostringstream out, err;
  const int code = cli::Main(args, out, err);
  return {code, out.str(), err.str()};
}
}  // namespace

BOOST_AUTO_TEST_CASE(help_and_version) {
  Run r = Cli({"-help"});
  BOOST_TEST(r.code == 0);
  BOOST_TEST(r.out.find("info") != std::string::npos);
  BOOST_TEST(r.out.find("validate") != std::string::npos);
  r = Cli({"-version"});
  BOOST_TEST(r.code == 0);
  BOOST_TEST(r.out.find("SUNDIALS 6.4") != std::string::npos);
  BOOST_TEST(r.out.find("Ceres 2.1") != std::string::npos);
  BOOST_TEST(r.out.find("HDF5 1.10") != std::string::npos);
  BOOST_TEST(r.out.find("Eigen 3.4") != std::string::npos);
  r = Cli({"validate", "-help"});
  BOOST_TEST(r.code == 0);
  BOOST_TEST(r.out.find("-validate_level") != std::string::npos);
  BOOST_TEST(r.out.find("-options_view") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(exit_code_2_for_bad_commands_and_options) {
  Run r = Cli({"frobnicate"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("unknown command 'frobnicate'") != std::string::npos);
  r = Cli({"validate", "-validate_levl", "full"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("did you mean -validate_level?") != std::string::npos);
  r = Cli({"validate", "-validate_level", "huge"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("quick, full") != std::string::npos);
  r = Cli({"info"});
  BOOST_TEST(r.code == 2);
  r = Cli({"info", "does_not_exist.h5"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("does_not_exist.h5") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(info_describes_model_files) {
  const std::string file = "cli_model.h5";
  std::filesystem::remove(file);
  Mlp v = RandomMlp(2, 2, {16, 16}, TimeInput::kConcat, Activation::kTanh, 3);
  v.base_time = 0;
  WriteMlp(file, "/velocity", v);
  Mlp dec = RandomMlp(2, 5, {8}, TimeInput::kNone, Activation::kElu, 4);
  dec.output_activation = Activation::kSigmoid;
  WriteMlp(file, "/decoder/mean", dec);
  Run r = Cli({"info", file});
  BOOST_TEST(r.code == 0, r.err);
  BOOST_TEST(r.out.find("network /velocity") != std::string::npos);
  BOOST_TEST(r.out.find("layers: 3->16 16->16 16->2") != std::string::npos);
  BOOST_TEST(r.out.find("time_input concat") != std::string::npos);
  BOOST_TEST(r.out.find("base_time 0") != std::string::npos);
  BOOST_TEST(r.out.find("network /decoder/mean") != std::string::npos);
  BOOST_TEST(r.out.find("output_activation sigmoid") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(validate_writes_a_report_with_provenance_that_info_shows) {
  const std::string report = "cli_report.h5";
  std::filesystem::remove(report);
  Run r = Cli({"validate", "-output", report, "-options_view"});
  BOOST_TEST((r.code == 0 || r.code == 1), r.err);
  BOOST_TEST(r.out.find("-output cli_report.h5") != std::string::npos);
  BOOST_TEST(r.out.find("# command line") != std::string::npos);
  BOOST_REQUIRE(std::filesystem::exists(report));
  BOOST_TEST(!std::filesystem::exists(report + ".partial"));
  Run info = Cli({"info", report});
  BOOST_TEST(info.code == 0);
  BOOST_TEST(info.out.find("provenance (written by pushpull)") != std::string::npos);
  BOOST_TEST(info.out.find("command_line: pushpull validate -output cli_report.h5 -options_view") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(options_file_and_environment_reach_commands) {
  std::ofstream("cli_options.txt") << "-validate_level full\n-validate_levle quick\n";
  Run r = Cli({"validate", "-options_file", "cli_options.txt", "-output", "cli_unused.h5"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("-validate_levle") != std::string::npos);
  BOOST_TEST(r.err.find("options file") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(options_reference_in_docs_matches_the_declarations) {
  std::ifstream in(std::string(PUSHPULL_TEST_SOURCE_DIR) + "/docs/options.md");
  BOOST_REQUIRE(in.good());
  std::stringstream buffer;
  buffer << in.rdbuf();
  BOOST_TEST(buffer.str() == cli::OptionsReferenceMarkdown(),
             "docs/options.md is stale: regenerate it with `pushpull options-reference > docs/options.md`");
}
