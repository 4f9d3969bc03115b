#pragma once
// The FFTW planning effort of the process. Every FFT in ssmkit (conv/ FFT convolution,
// stream/ partitioned convolution, the layers that use them) takes its FFTW plans from one
// cache (src/core/fftw_plan_cache.hpp), so this one setting governs them all.

namespace ssm {

/// How FFTW plans are chosen for transforms planned from now on (process-wide):
///   estimate (default): heuristic, instant and deterministic;
///   measure: FFTW times candidate algorithms (FFTW_MEASURE) for at most `time_limit_s` seconds
///   per plan; faster transforms for large n (figures: docs/convolution.md), at a planning cost
///   of seconds on first use of each size. Plans already made keep their effort; estimate and measure
///   plans are cached separately. Results may differ in the last bits between the two.
enum class FftPlanning { estimate, measure };
void set_fft_planning(FftPlanning effort, double time_limit_s = 10.0);
FftPlanning fft_planning() noexcept;

}  // namespace ssm
