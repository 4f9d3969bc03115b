#pragma once
// The models of filter specs (filter_spec.cpp builds them; spec_models.cpp holds them).
#include <memory>
#include <string>

#include "engine.hpp"
#include "ssm/continuous/diagonal.hpp"
#include "ssm/continuous/hippo.hpp"

namespace ssm::cli {

/// A dense HiPPO filter (`hippo:<measure>`, docs/cli.md), the same SISO filter on every channel.
std::unique_ptr<Model> make_hippo_model(hippo::Measure measure, int N, double theta, double delay, Method method,
                                        int channels);
/// An S4D diagonal model (`s4d:<init>`); `origin` names the initialization in describe().
std::unique_ptr<Model> make_diag_model(DiagonalSSM m, Method method, std::string origin);

}  // namespace ssm::cli
