// Closed-form geometries for validation and tests (docs/math.md section 4), each with its closed-form distance or
// an independent form of its geodesic equation (src/geometry/closed_form_geometries.cpp).
// Derivatives of the decoders are nested forward-mode automatic differentiation (inside the .cpp).
#pragma once

#include <memory>
#include <vector>

#include <Eigen/Core>

#include "pushpull/decoder.hpp"
#include "pushpull/metric.hpp"
#include "pushpull/registry.hpp"

namespace pushpull {

// f(z) = W z + c; distance ||W (z1 - z0)||.
std::shared_ptr<const Decoder> MakeLinearDecoder(const Eigen::MatrixXd& W, const Eigen::VectorXd& c);
double LinearDistance(const Eigen::MatrixXd& W, const Eigen::VectorXd& z0, const Eigen::VectorXd& z1);

// Inverse stereographic projection onto the unit sphere S^d in R^{d+1}; distance arccos <f(z0), f(z1)>.
std::shared_ptr<const Decoder> MakeStereographicSphereDecoder(int d);
double SphereDistance(const Eigen::VectorXd& z0, const Eigen::VectorXd& z1);

// Torus f(th, ph) = ((R + r cos th) cos ph, (R + r cos th) sin ph, r sin th), R > r > 0.
std::shared_ptr<const Decoder> MakeTorusDecoder(double R, double r);
// Distance along one meridian (ph0 == ph1, |th1 - th0| <= pi): r |th1 - th0|.
double TorusMeridianDistance(double r, const Eigen::VectorXd& z0, const Eigen::VectorXd& z1);

// Height field f(x, y) = (x, y, h(x, y)) with the bump h = A exp(-(x^2 + y^2) / 2).
std::shared_ptr<const Decoder> MakeGaussianBumpDecoder(double A);
// The exact height-field geodesic equation g'' = -grad h (g'^T Hess h g') / (1 + |grad h|^2) (independent check).
Eigen::VectorXd GaussianBumpAcceleration(double A, const Eigen::VectorXd& z, const Eigen::VectorXd& u);

// Fisher-Rao metric of univariate normals, coordinates (mu, sigma): M = diag(1, 2) / sigma^2, sigma > 0.
std::shared_ptr<const MetricTensorField> MakeFisherRaoNormalField();
// sqrt(2) arccosh(1 + ((mu1 - mu0)^2 / 2 + (sigma1 - sigma0)^2) / (2 sigma0 sigma1)).
double FisherRaoNormalDistance(const Eigen::VectorXd& z0, const Eigen::VectorXd& z1);

// Poincare half-plane M = I / y^2, y > 0; distance arccosh(1 + |z1 - z0|^2 / (2 y0 y1)).
std::shared_ptr<const MetricTensorField> MakePoincareHalfPlaneField();
double PoincareDistance(const Eigen::VectorXd& z0, const Eigen::VectorXd& z1);

// ---- The geometries by name (the CLI's -metric_type, the Python module's metric names) ----------------------------

class OptionsDatabase;

// Parameters of the named geometries: -linear_weights, -torus_R, -torus_r, -height_amplitude.
struct ClosedFormParameters {
  std::vector<double> linear_weights;  // linear: W row-major, D x d entries; empty = the identity
  double torus_R = 2.0;                // torus: distance from the centre to the tube centre
  double torus_r = 0.7;                // torus: tube radius (< torus_R)
  double height_amplitude = 0.8;       // height_field: amplitude A of the Gaussian bump
  // Declares the four options (no prefix) and applies values from the database; throws InputError naming the option.
  void SetFromOptions(OptionsDatabase& db);
};

// A geometry made by name: its metric, and for a pullback metric the decoder (null for a metric tensor field).
struct ClosedFormGeometry {
  std::shared_ptr<Metric> metric;
  std::shared_ptr<const Decoder> decoder;
};
// linear, sphere, torus, height_field, fisher_rao, poincare. Create(name, parameters, d) makes the geometry for points
// with d coordinates; throws InputError for an unknown name, a dimension the geometry does not have, or parameters it
// refuses (torus_R <= torus_r, linear_weights not a multiple of d).
using ClosedFormGeometryRegistry = Registry<ClosedFormGeometry, const ClosedFormParameters&, int>;
const ClosedFormGeometryRegistry& ClosedFormGeometries();

}  // namespace pushpull
