#define BOOST_TEST_MODULE io
#include <boost/test/unit_test.hpp>

#include <hdf5.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "pushpull/errors.hpp"
#include "test_support.hpp"
#include "pushpull/io.hpp"
#include "pushpull/mlp.hpp"
#include "pushpull/options.hpp"
#include "pushpull/provenance.hpp"

using namespace pushpull;
using pushpull::testing::ExpectInputError;

namespace {

// Writes a raw dataset with the plain HDF5 API (float64 or float32), as a user's script would.
void WriteRaw(const std::string& file, const std::string& name, const std::vector<hsize_t>& dims,
              const std::vector<double>& data, bool as_float32 = false) {
  hid_t f = std::filesystem::exists(file) ? H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)
                                          : H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  hid_t d = H5Dcreate2(f, name.c_str(), as_float32 ? H5T_IEEE_F32LE : H5T_IEEE_F64LE, space, H5P_DEFAULT,
                       H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data());
  H5Dclose(d);
  H5Sclose(space);
  H5Fclose(f);
}

Provenance TestProvenance() {
  OptionsDatabase db;
  db.ParseTokens({"-ode_rtol", "1e-9"}, "");
  double rtol = 1e-6;
  db.Real("", "ode_rtol", rtol, "tol", "");
  return Provenance::Collect({"pushpull", "test", "-ode_rtol", "1e-9"}, &db);
}
}  // namespace

BOOST_AUTO_TEST_CASE(dataset_names_parse) {
  auto n = DatasetName::Parse("data/points.h5:/group/points");
  BOOST_TEST(n.file == "data/points.h5");
  BOOST_TEST(n.path == "/group/points");
  BOOST_TEST(DatasetName::Parse("p.h5:x").path == "/x");
  ExpectInputError([] { DatasetName::Parse("points.h5", "input"); }, {"-input", "points.h5", "FILE.h5:/path"});
}

BOOST_AUTO_TEST_CASE(round_trip_float64_and_float32_widened) {
  const std::string file = "io_roundtrip.h5";
  std::filesystem::remove(file);
  WriteRaw(file, "/points", {3, 2}, {1, 2, 3, 4, 5, 6});
  WriteRaw(file, "/single", {2, 2}, {0.5, 0.25, -1, 2}, true);
  WriteRaw(file, "/cube", {2, 2, 3}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  RowMatrixXd m = ReadMatrix(DatasetName::Parse(file + ":/points"), 2);
  BOOST_TEST(m.rows() == 3);
  BOOST_TEST(m(2, 1) == 6.0);
  BOOST_TEST(m(1, 0) == 3.0);
  RowMatrixXd s = ReadMatrix(DatasetName::Parse(file + ":/single"));
  BOOST_TEST(s(0, 1) == 0.25);
  ArraySpec spec;
  spec.ranks = {3};
  spec.shape = {-1, 2, 3};
  Array cube = ReadArray(DatasetName::Parse(file + ":/cube"), spec);
  BOOST_TEST(cube.shape[0] == 2u);
  BOOST_TEST(cube.data[1 * 6 + 1 * 3 + 2] == 11.0);
}

BOOST_AUTO_TEST_CASE(bad_inputs_name_file_dataset_and_problem) {
  const std::string file = "io_bad.h5";
  std::filesystem::remove(file);
  WriteRaw(file, "/points", {3, 2}, {1, 2, 3, 4, 5, 6});
  WriteRaw(file, "/vector", {4}, {1, 2, 3, 4});
  WriteRaw(file, "/nan", {2, 2}, {1, NAN, 3, 4});
  WriteRaw(file, "/inf", {2, 2}, {1, 2, INFINITY, 4});
  ExpectInputError([] { ReadMatrix(DatasetName::Parse("missing_file.h5:/points")); },
                   {"missing_file.h5", "does not exist"});
  ExpectInputError([&] { ReadMatrix(DatasetName::Parse(file + ":/nothing")); }, {file, "/nothing", "no dataset"});
  ExpectInputError([&] { ReadMatrix(DatasetName::Parse(file + ":/vector")); }, {file, "/vector", "rank 1"});
  ExpectInputError([&] { ReadMatrix(DatasetName::Parse(file + ":/points"), 3, "points"); },
                   {file, "/points", "(3 x 2)", "expected (any x 3)"});
  ExpectInputError([&] { ReadMatrix(DatasetName::Parse(file + ":/nan")); }, {file, "/nan", "non-finite", "[0, 1]"});
  ExpectInputError([&] { ReadMatrix(DatasetName::Parse(file + ":/inf")); }, {"/inf", "non-finite", "[1, 0]"});
  {
    std::ofstream("not_hdf5.h5") << "plain text";
  }
  ExpectInputError([] { ReadMatrix(DatasetName::Parse("not_hdf5.h5:/x")); }, {"not_hdf5.h5", "not an HDF5 file"});
}

BOOST_AUTO_TEST_CASE(output_is_atomic_and_carries_provenance) {
  const std::string file = "io_out.h5";
  std::filesystem::remove(file);
  std::filesystem::remove(file + ".partial");
  {
    OutputFile out(file, TestProvenance());
    BOOST_TEST(std::filesystem::exists(file + ".partial"));
    BOOST_TEST(!std::filesystem::exists(file));
    RowMatrixXd m(2, 3);
    m << 1, 2, 3, 4, 5, 6;
    out.WriteMatrix("results/matrix", m);
    out.WriteIntVector("results/status", {0, 1});
    out.WriteStrings("results/names", {"a", "bb"});
    out.SetAttribute("results/matrix", "units", "none");
    out.Commit();
  }
  BOOST_TEST(std::filesystem::exists(file));
  BOOST_TEST(!std::filesystem::exists(file + ".partial"));
  RowMatrixXd back = ReadMatrix(DatasetName::Parse(file + ":/results/matrix"), 3);
  BOOST_TEST(back(1, 2) == 6.0);
  BOOST_TEST(ReadRootStringAttribute(file, "pushpull_version") == "0.1.0");
  BOOST_TEST(ReadRootStringAttribute(file, "command_line") == "pushpull test -ode_rtol 1e-9");
  BOOST_TEST(ReadRootStringAttribute(file, "options").find("-ode_rtol 1e-09") != std::string::npos);
  BOOST_TEST(ReadRootStringAttribute(file, "options").find("command line") != std::string::npos);
  BOOST_TEST(!ReadRootStringAttribute(file, "sundials_version").empty());
  BOOST_TEST(!ReadRootStringAttribute(file, "ceres_version").empty());
  BOOST_TEST(!ReadRootStringAttribute(file, "hdf5_version").empty());
  BOOST_TEST(!ReadRootStringAttribute(file, "eigen_version").empty());
  BOOST_TEST(!ReadRootStringAttribute(file, "git_commit").empty());
  BOOST_TEST(!ReadRootStringAttribute(file, "host").empty());
}

BOOST_AUTO_TEST_CASE(interrupted_run_leaves_a_readable_partial_file) {
  const std::string file = "io_interrupted.h5";
  std::filesystem::remove(file);
  std::filesystem::remove(file + ".partial");
  {
    OutputFile out(file, TestProvenance());
    RowDataset rows = out.CreateRowDataset("log_density", ElementType::kFloat64, 10, {});
    const double first[3] = {1.0, 2.0, 3.0};
    rows.Write(0, 3, first);
    out.SetCompletedRows(3);
    // no Commit(): the run "dies" here
  }
  BOOST_TEST(!std::filesystem::exists(file));
  BOOST_REQUIRE(std::filesystem::exists(file + ".partial"));
  hid_t f = H5Fopen((file + ".partial").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  BOOST_REQUIRE(f >= 0);
  long long completed = -1, complete = -1;
  hid_t a = H5Aopen(f, "completed_rows", H5P_DEFAULT);
  H5Aread(a, H5T_NATIVE_LLONG, &completed);
  H5Aclose(a);
  a = H5Aopen(f, "complete", H5P_DEFAULT);
  H5Aread(a, H5T_NATIVE_LLONG, &complete);
  H5Aclose(a);
  double values[10];
  hid_t d = H5Dopen2(f, "/log_density", H5P_DEFAULT);
  H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values);
  H5Dclose(d);
  H5Fclose(f);
  BOOST_TEST(completed == 3);
  BOOST_TEST(complete == 0);
  BOOST_TEST(values[2] == 3.0);
  BOOST_TEST(std::isnan(values[3]));  // rows not yet written read as NaN, never as a plausible value
}

BOOST_AUTO_TEST_CASE(output_into_missing_directory_is_refused) {
  ExpectInputError([] { OutputFile("no/such/dir/out.h5", TestProvenance()); }, {"no/such/dir", "does not exist"});
}

BOOST_AUTO_TEST_CASE(model_files_round_trip_and_bad_models_are_refused) {
  const std::string file = "io_model.h5";
  std::filesystem::remove(file);
  Mlp mlp = RandomMlp(2, 2, {8, 8}, TimeInput::kConcatSquash, Activation::kSoftplus, 7);
  mlp.base_time = 0;
  WriteMlp(file, "/velocity", mlp);
  const Mlp back = ReadMlp(file, "/velocity", true);
  BOOST_TEST(back.num_layers() == 3);
  BOOST_TEST(back.activation == Activation::kSoftplus);
  BOOST_TEST(back.time_input == TimeInput::kConcatSquash);
  BOOST_TEST((back.layers[1].W - mlp.layers[1].W).norm() == 0.0);
  BOOST_TEST((back.layers[2].hyper_W - mlp.layers[2].hyper_W).norm() == 0.0);
  BOOST_TEST(back.base_time == 0.0);

  // Missing base_time for a velocity field.
  Mlp no_base = RandomMlp(2, 2, {4}, TimeInput::kConcat, Activation::kTanh, 1);
  WriteMlp(file, "/nobase", no_base);
  ExpectInputError([&] { ReadMlp(file, "/nobase", true); }, {file, "/nobase", "base_time"});
  // Unknown activation.
  pushpull::testing::RewriteStringAttribute(file, "/nobase", "activation", "relu6");
  ExpectInputError([&] { ReadMlp(file, "/nobase"); }, {file, "/nobase", "unknown activation 'relu6'"});
  // Shape mismatch between layers.
  Mlp broken = RandomMlp(2, 2, {4, 4}, TimeInput::kNone, Activation::kTanh, 2);
  broken.layers[1].W = Eigen::MatrixXd::Ones(4, 5);
  WriteMlp(file, "/broken", broken);
  ExpectInputError([&] { ReadMlp(file, "/broken"); }, {"/broken", "W1", "5 columns", "expected 4"});
  // Non-finite weight.
  Mlp nonfinite = RandomMlp(2, 2, {4}, TimeInput::kNone, Activation::kTanh, 3);
  nonfinite.layers[0].b(1) = NAN;
  WriteMlp(file, "/nonfinite", nonfinite);
  ExpectInputError([&] { ReadMlp(file, "/nonfinite"); }, {"/nonfinite", "b0", "non-finite"});
  ExpectInputError([&] { ReadMlp(file, "/absent"); }, {file, "/absent", "no such group"});
}
