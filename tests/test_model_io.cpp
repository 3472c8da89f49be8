// Decoders read from model files (ReadDecoder).
#define BOOST_TEST_MODULE model_io
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "pushpull/closed_form_geometries.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/functor_decoder.hpp"
#include "pushpull/functor_metric.hpp"
#include "pushpull/geodesic.hpp"
#include "pushpull/log_map.hpp"
#include "pushpull/metric.hpp"
#include "pushpull/mlp.hpp"
#include "pushpull/options.hpp"
#include "geodesic_test_helpers.hpp"
#include "test_support.hpp"

using namespace pushpull;
using Eigen::MatrixXd;
using Eigen::VectorXd;
using namespace pushpull::geodesic_testing;

BOOST_AUTO_TEST_CASE(read_decoder_from_model_file) {
  const std::string file =
      (std::filesystem::temp_directory_path() / ("pushpull_test_geodesic_" + std::to_string(::getpid()) + ".h5"))
          .string();
  std::filesystem::remove(file);
  Mlp mean = RandomMlp(2, 3, {5}, TimeInput::kNone, Activation::kTanh, 31u);
  Mlp sd = RandomMlp(2, 3, {5}, TimeInput::kNone, Activation::kElu, 32u);
  sd.output_activation = Activation::kSoftplus;
  WriteMlp(file, "/decoder/mean", mean);
  BOOST_CHECK_THROW(ReadDecoder(file, true), InputError);  // no /decoder/std yet
  WriteMlp(file, "/decoder/std", sd);
  const auto det = ReadDecoder(file, false);
  const auto sto = ReadDecoder(file, true);
  const VectorXd z = V({0.4, -0.3});
  BOOST_TEST(det->output_dim() == 3);
  BOOST_TEST(sto->output_dim() == 6);
  const MatrixXd Jm = MlpDecoder(mean).Jacobian(z), Js = MlpDecoder(sd).Jacobian(z);
  BOOST_TEST(MaxAbs(det->Jacobian(z), Jm) < 1e-14);
  BOOST_TEST(MaxAbs(sto->Jacobian(z).bottomRows(3), Js) < 1e-14);
  std::filesystem::remove(file);
}
