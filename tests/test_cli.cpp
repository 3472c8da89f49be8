#define BOOST_TEST_MODULE cli
#include <boost/test/unit_test.hpp>

#include <hdf5.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include "cli/commands.hpp"
#include "pushpull/io.hpp"
#include "pushpull/mlp.hpp"
#include "pushpull/provenance.hpp"
#include "test_support.hpp"

using namespace pushpull;

namespace {
using Run = pushpull::testing::CliRun;
Run Cli(std::vector<std::string> args) { return pushpull::testing::RunCli(std::move(args)); }
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

BOOST_AUTO_TEST_CASE(options_nothing_reads_are_not_declared) {
  // The geodesic prefixes reuse the ODE integrator's options, but declare only those their integrations read: the
  // geodesic system has no regularizer quadratures, only the density and sample commands print steps, and the shots'
  // variational equations have their own linear solver. Setting one of these is refused like a typo (with the
  // closest declared option when one is close).
  const std::vector<std::pair<std::string, std::string>> unread = {
      {"exp", "geo_ode_monitor"},
      {"exp", "geo_ode_control_regularizers"},
      {"geodesic", "bvp_ode_monitor"},
      {"geodesic", "bvp_verify_ode_monitor"},
      {"geodesic", "bvp_ode_control_regularizers"},
      {"geodesic", "bvp_verify_ode_control_regularizers"},
      {"geodesic", "bvp_ode_linear_solver"},
      {"distances", "bvp_verify_ode_monitor"},
      {"validate", "ode_monitor"},
  };
  std::map<std::string, const cli::Command*> commands;
  for (const auto& c : cli::Commands()) commands[c.name] = &c;
  for (const auto& [command, option] : unread) {
    BOOST_TEST_CONTEXT(command << " -" << option) {
      BOOST_TEST_REQUIRE(commands.count(command) == 1);
      OptionsDatabase db;
      db.Set(option, "true");
      cli::DeclareOptions(*commands[command], db);
      bool declared = false;
      for (const auto& d : db.Declarations()) declared = declared || d.name == option;
      BOOST_TEST(!declared);
      pushpull::testing::ExpectInputError([&] { db.CheckAllUsed(); }, {"unknown option -" + option});
    }
  }
  {
    // The geodesic command's own monitor is the nearest.
    OptionsDatabase db;
    db.Set("bvp_ode_monitor", "true");
    cli::DeclareOptions(*commands.at("geodesic"), db);
    pushpull::testing::ExpectInputError([&] { db.CheckAllUsed(); }, {"did you mean -bvp_monitor?"});
  }
  // What they do read stays declared.
  for (const auto& [command, option] : std::vector<std::pair<std::string, std::string>>{
           {"density", "ode_monitor"}, {"sample", "ode_control_regularizers"}, {"exp", "geo_ode_linear_solver"},
           {"geodesic", "bvp_verify_ode_linear_solver"}, {"geodesic", "bvp_ode_type"}}) {
    BOOST_TEST_CONTEXT(command << " -" << option) {
      OptionsDatabase db;
      cli::DeclareOptions(*commands.at(command), db);
      bool declared = false;
      for (const auto& d : db.Declarations()) declared = declared || d.name == option;
      BOOST_TEST(declared);
    }
  }
}

namespace {
void WritePoints(const std::string& file, const RowMatrixXd& m) {
  Provenance p = Provenance::Collect({"test"}, nullptr);
  OutputFile out(file, p);
  out.WriteMatrix("points", m);
  out.Commit();
}
}  // namespace

BOOST_AUTO_TEST_CASE(density_and_sample_write_every_dataset_and_agree) {
  const std::string model = "cli_flow.h5";
  std::filesystem::remove(model);
  Mlp v = RandomMlp(2, 2, {16, 16}, TimeInput::kConcat, Activation::kTanh, 5, 0.8);
  v.base_time = 0;
  WriteMlp(model, "/velocity", v);
  Run s = Cli({"sample", "-model", model, "-n", "50", "-seed", "3", "-output", "cli_samples.h5", "-kinetic",
               "-save_times", "0,0.5,1", "-ode_rtol", "1e-9", "-ode_atol", "1e-9"});
  BOOST_TEST(s.code == 0, s.err);
  const RowMatrixXd samples = ReadMatrix(DatasetName::Parse("cli_samples.h5:/samples"), 2);
  ArraySpec vector;
  vector.ranks = {1};
  const Array logp = ReadArray(DatasetName::Parse("cli_samples.h5:/log_density"), vector);
  BOOST_TEST(samples.rows() == 50);
  ArraySpec traj;
  traj.ranks = {3};
  traj.shape = {50, 3, 2};
  const Array trajectories = ReadArray(DatasetName::Parse("cli_samples.h5:/trajectories"), traj);
  BOOST_TEST(std::abs(trajectories.data[2 * 2 + 0] - samples(0, 0)) < 1e-12);  // x(1) of sample 0 is the sample
  // The density of the samples, computed backwards, equals their log-density from sampling.
  WritePoints("cli_points.h5", samples);
  Run d = Cli({"density", "-model", model, "-input", "cli_points.h5:/points", "-output", "cli_density.h5",
               "-ode_rtol", "1e-9", "-ode_atol", "1e-9", "-threads", "2", "-batch_size", "7", "-logdet_check"});
  BOOST_TEST(d.code == 0, d.err);
  // Jacobi's formula on a nonlinear network, no closed form needed.
  ArraySpec diff_spec;
  diff_spec.ranks = {1};
  const Array diff = ReadArray(DatasetName::Parse("cli_density.h5:/logdet_difference"), diff_spec);
  for (double value : diff.data) BOOST_TEST(std::abs(value) < 1e-6);
  BOOST_TEST(d.out.find("logdet check") != std::string::npos);
  const Array logp2 = ReadArray(DatasetName::Parse("cli_density.h5:/log_density"), vector);
  BOOST_REQUIRE(logp.size() == logp2.size());
  for (std::size_t i = 0; i < logp.size(); ++i) BOOST_TEST(std::abs(logp.data[i] - logp2.data[i]) < 1e-6);
  const RowMatrixXd latent = ReadMatrix(DatasetName::Parse("cli_density.h5:/latent"), 2);
  const RowMatrixXd base = ReadMatrix(DatasetName::Parse("cli_samples.h5:/base_samples"), 2);
  BOOST_TEST((latent - base).cwiseAbs().maxCoeff() < 1e-6);
  BOOST_TEST(ReadRootStringAttribute("cli_density.h5", "options").find("-batch_size 7") != std::string::npos);
  BOOST_TEST(!ReadRootStringAttribute("cli_density.h5", "event_log").empty());
  // The status datasets and summary attributes every command writes (status_output.hpp).
  const Array status = ReadArray(DatasetName::Parse("cli_density.h5:/status"), vector);
  for (const double v : status.data) BOOST_TEST(v == 0.0);
  const auto messages = ReadStrings(DatasetName::Parse("cli_density.h5:/status_message"));
  BOOST_TEST(messages.size() == 50u);
  BOOST_TEST(ReadRootIntAttribute("cli_density.h5", "items") == 50);
  BOOST_TEST(ReadRootIntAttribute("cli_density.h5", "failed") == 0);
  BOOST_TEST(ReadRootIntAttribute("cli_density.h5", "count_success") == 50);
  ArraySpec ints;
  ints.ranks = {1};
  const Array steps = ReadArray(DatasetName::Parse("cli_density.h5:/steps"), ints);
  BOOST_TEST(ReadRootIntAttribute("cli_density.h5", "total_steps") >= static_cast<std::int64_t>(steps.data[0]));
  BOOST_TEST(ReadRootIntAttribute("cli_density.h5", "total_rhs_evals") >=
             ReadRootIntAttribute("cli_density.h5", "total_steps"));
  BOOST_TEST(ReadRootStringAttribute("cli_density.h5", "summary").find("density summary") == 0u);
  BOOST_TEST(d.out.find("density: 50 points, 0 failed") == 0u, d.out);
}

BOOST_AUTO_TEST_CASE(density_refuses_bad_inputs_with_exit_code_2) {
  const std::string model = "cli_flow_bad.h5";
  std::filesystem::remove(model);
  std::filesystem::remove("cli_x.h5");
  Mlp v = RandomMlp(2, 2, {8}, TimeInput::kConcat, Activation::kTanh, 6);
  v.base_time = 1;
  WriteMlp(model, "/velocity", v);
  Mlp nobase = RandomMlp(2, 2, {8}, TimeInput::kConcat, Activation::kTanh, 7);
  WriteMlp(model, "/nobase", nobase);
  RowMatrixXd three = RowMatrixXd::Ones(4, 3);
  WritePoints("cli_three.h5", three);
  RowMatrixXd nonfinite = RowMatrixXd::Ones(4, 2);
  nonfinite(1, 1) = std::nan("");
  WritePoints("cli_nonfinite.h5", nonfinite);
  RowMatrixXd good = RowMatrixXd::Ones(4, 2);
  WritePoints("cli_good.h5", good);
  Run r = Cli({"density", "-model", model, "-input", "cli_three.h5:/points", "-output", "cli_x.h5"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("3 columns") != std::string::npos, r.err);
  r = Cli({"density", "-model", model, "-input", "cli_nonfinite.h5:/points", "-output", "cli_x.h5"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("non-finite") != std::string::npos, r.err);
  r = Cli({"density", "-model", model, "-model_group", "/nobase", "-input", "cli_good.h5:/points", "-output",
           "cli_x.h5"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("base_time") != std::string::npos, r.err);
  Mlp relu = RandomMlp(2, 2, {8}, TimeInput::kConcat, Activation::kTanh, 8);
  relu.base_time = 0;
  WriteMlp("cli_flow_relu.h5", "/velocity", relu);
  pushpull::testing::RewriteStringAttribute("cli_flow_relu.h5", "/velocity", "activation", "relu");
  r = Cli({"density", "-model", "cli_flow_relu.h5", "-input", "cli_good.h5:/points", "-output", "cli_x.h5"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("unknown activation 'relu'") != std::string::npos, r.err);
  r = Cli({"density", "-model", "missing_model.h5", "-input", "cli_good.h5:/points", "-output", "cli_x.h5"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("missing_model.h5") != std::string::npos, r.err);
  r = Cli({"density", "-model", model, "-input", "cli_good.h5:/points", "-output", "cli_x.h5", "-ode_rtoll", "1"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("did you mean -ode_rtol?") != std::string::npos, r.err);
  r = Cli({"density", "-model", model, "-input", "cli_good.h5:/points", "-output", "cli_x.h5", "-ode_type", "rk4"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("bdf") != std::string::npos, r.err);
  BOOST_TEST(!std::filesystem::exists("cli_x.h5"));
  r = Cli({"density", "-model", model, "-input", "cli_good.h5:/points", "-output", "cli_x.h5"});
  BOOST_TEST(r.code == 0, r.err);
}
