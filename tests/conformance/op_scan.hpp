#pragma once
// Scan-stage conformance entry points shared with other handlers.
#include "conformance/conformance.hpp"

namespace ssm::conformance {

/// The scan path of a `diag_filter` case (FORMAT.md): ssm::diag_scan on r.device in
/// r.precision. Returns outputs "y" (Bt,H,L) and "h" (Bt,H,N2) complex.
Outputs run_diag_filter_scan(const io::SafeTensors& st, const Run& r);

}  // namespace ssm::conformance
