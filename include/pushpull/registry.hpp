// Type registries in PETSc's sense (TSRegister, SNESRegister): families of solvers chosen by name at run time.
//
//   Registry<OdeIntegrator> registry("ode_type");
//   registry.Register("bdf", "CVODES BDF with Newton iterations", [] { return std::make_unique<Bdf>(); });
//   auto integrator = registry.Create("bdf");
//
// Research code adds its own types through the same Register call (each family exposes its registry, e.g.
// `OdeIntegratorRegistry()`), and they then appear in -help and are accepted by the `-..._type` option.
// An unknown name is an InputError that lists the valid names.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "pushpull/errors.hpp"

namespace pushpull {

namespace detail {
// "unknown -ode_type 'bfd'; valid values: adams, bdf (did you mean bdf?)"
std::string UnknownTypeMessage(std::string_view family, std::string_view name, const std::vector<std::string>& valid);
}  // namespace detail

template <class Product, class... Args>
class Registry {
 public:
  using Factory = std::function<std::unique_ptr<Product>(Args...)>;

  // `family` is the option that selects a type, without the leading '-' (e.g. "ode_type").
  explicit Registry(std::string family) : family_(std::move(family)) {}

  // Adds a type, or replaces the factory of a type with the same name.
  void Register(std::string name, std::string help, Factory factory) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& e : entries_) {
      if (e.name == name) {
        e.help = std::move(help);
        e.factory = std::move(factory);
        return;
      }
    }
    entries_.push_back({std::move(name), std::move(help), std::move(factory)});
  }

  std::unique_ptr<Product> Create(std::string_view name, Args... args) const {
    Factory factory;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (const auto& e : entries_) {
        if (e.name == name) factory = e.factory;
      }
    }
    if (!factory) throw InputError(detail::UnknownTypeMessage(family_, name, Names()));
    return factory(std::forward<Args>(args)...);
  }

  bool Has(std::string_view name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& e : entries_) {
      if (e.name == name) return true;
    }
    return false;
  }

  std::vector<std::string> Names() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> names;
    for (const auto& e : entries_) names.push_back(e.name);
    return names;
  }

  std::string Help(std::string_view name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& e : entries_) {
      if (e.name == name) return e.help;
    }
    return {};
  }

  const std::string& family() const { return family_; }

 private:
  struct Entry {
    std::string name;
    std::string help;
    Factory factory;
  };
  std::string family_;
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
};

}  // namespace pushpull
