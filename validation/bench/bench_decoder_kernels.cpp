// bench_decoder_kernels: microseconds per call of the derivative kernels of MlpDecoder and of its PullbackMetric.
//
// Cases: random decoders d -> 64 -> 64 -> 64 (tanh hidden layers, sigmoid output) for latent dimensions d = 2, 8
// and 16, and the image-decoder shape 8 -> 128 -> 128 -> 784. Each kernel is called on a fixed set of random points
// and velocities; the time per call is the best of several timed rounds (each round long enough to dwarf the clock's
// resolution). A checksum of the results keeps the compiler from dropping the calls.
//
// Targets (2-d case, this machine): Acceleration and AccelerationAndSpeed <= ~5 us, AccelerationTangent <= ~10 us.
//
//   bench_decoder_kernels            (all cases)
//   bench_decoder_kernels 0.5        (seconds per timed round instead of the default 0.1)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "pushpull/metric.hpp"
#include "pushpull/mlp.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using Eigen::MatrixXd;
using Eigen::VectorXd;
using pushpull::Activation;

double g_sink = 0.0;  // checksum of the results

// Microseconds per call of `kernel(i)` over i = 0, 1, ... (cycling through the sample points): best of `rounds`
// rounds of about `round_seconds` each.
double MicrosPerCall(const std::function<double(int)>& kernel, int points, double round_seconds, int rounds = 5) {
  // Calibrate the number of calls per round.
  long calls = 1;
  for (;;) {
    const auto t0 = Clock::now();
    for (long c = 0; c < calls; ++c) g_sink += kernel(static_cast<int>(c % points));
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (s > 0.2 * round_seconds) {
      calls = std::max(1L, static_cast<long>(static_cast<double>(calls) * round_seconds / s));
      break;
    }
    calls *= 4;
  }
  double best = 1e300;
  for (int r = 0; r < rounds; ++r) {
    const auto t0 = Clock::now();
    for (long c = 0; c < calls; ++c) g_sink += kernel(static_cast<int>(c % points));
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    best = std::min(best, s / static_cast<double>(calls));
  }
  return best * 1e6;
}

void RunCase(int d, int D, const std::vector<int>& hidden, double round_seconds) {
  pushpull::Mlp mlp = pushpull::RandomMlp(d, D, hidden, pushpull::TimeInput::kNone, Activation::kTanh, 7u, 1.0);
  mlp.output_activation = Activation::kSigmoid;
  auto decoder = std::make_shared<pushpull::MlpDecoder>(mlp);
  const pushpull::PullbackMetric metric(decoder);

  const int points = 64;
  std::mt19937 rng(1234);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<VectorXd> z(points), u(points), dz(points), du(points);
  for (int i = 0; i < points; ++i) {
    z[i] = VectorXd::NullaryExpr(d, [&] { return 0.5 * normal(rng); });
    u[i] = VectorXd::NullaryExpr(d, [&] { return normal(rng); });
    dz[i] = VectorXd::NullaryExpr(d, [&] { return normal(rng); });
    du[i] = VectorXd::NullaryExpr(d, [&] { return normal(rng); });
  }

  std::string shape = std::to_string(d);
  for (int h : hidden) shape += " -> " + std::to_string(h);
  shape += " -> " + std::to_string(D);
  std::printf("\ndecoder %s (tanh hidden, sigmoid output)\n", shape.c_str());
  std::printf("  %-22s %12s\n", "kernel", "us/call");
  auto report = [&](const char* name, const std::function<double(int)>& kernel) {
    std::printf("  %-22s %12.3f\n", name, MicrosPerCall(kernel, points, round_seconds));
    std::fflush(stdout);
  };

  report("Value", [&](int i) { return decoder->Value(z[i])[0]; });
  report("Jacobian", [&](int i) { return decoder->Jacobian(z[i])(0, 0); });
  report("SecondDirectional", [&](int i) { return decoder->SecondDirectional(z[i], u[i])[0]; });
  report("JacobianAndSecond", [&](int i) {
    MatrixXd J;
    VectorXd f2;
    decoder->JacobianAndSecond(z[i], u[i], &J, &f2);
    return J(0, 0) + f2[0];
  });
  report("Tangents", [&](int i) {
    MatrixXd J, dJ;
    VectorXd f2, df2;
    decoder->Tangents(z[i], u[i], dz[i], du[i], &J, &dJ, &f2, &df2);
    return dJ(0, 0) + df2[0];
  });
  report("GeodesicJet", [&](int i) {
    MatrixXd J, H, T;
    decoder->GeodesicJet(z[i], u[i], &J, &H, &T);
    return H(0, 0) + T(0, 0);
  });
  report("Evaluate", [&](int i) { return metric.Evaluate(z[i])(0, 0); });
  report("Acceleration", [&](int i) {
    VectorXd a;
    if (!metric.Acceleration(z[i], u[i], &a, nullptr)) std::abort();
    return a[0];
  });
  report("AccelerationAndSpeed", [&](int i) {
    VectorXd a;
    double speed2 = 0.0;
    if (!metric.AccelerationAndSpeed(z[i], u[i], &a, &speed2, nullptr)) std::abort();
    return a[0] + speed2;
  });
  report("AccelerationTangent", [&](int i) {
    VectorXd a, da;
    if (!metric.AccelerationTangent(z[i], u[i], dz[i], du[i], &a, &da, nullptr)) std::abort();
    return da[0];
  });
  report("AccelerationJacobian", [&](int i) {  // all 2d directions from one GeodesicJet
    VectorXd a;
    MatrixXd A;
    if (!metric.AccelerationJacobian(z[i], u[i], &a, &A, nullptr)) std::abort();
    return A(0, 0);
  });
}

}  // namespace

int main(int argc, char** argv) {
  double round_seconds = 0.1;
  if (argc > 1) round_seconds = std::max(1e-3, std::atof(argv[1]));
  RunCase(2, 64, {64, 64}, round_seconds);
  RunCase(8, 64, {64, 64}, round_seconds);
  RunCase(16, 64, {64, 64}, round_seconds);
  RunCase(8, 784, {128, 128}, round_seconds);
  std::printf("\n(checksum %g)\n", g_sink);
  return 0;
}
