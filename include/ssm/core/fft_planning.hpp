#pragma once
// The FFTW planning effort of the process, and FFTW wisdom (the record of measured plans) on
// disk. Every FFT in ssmkit (conv/ FFT convolution, stream/ partitioned convolution, the layers
// that use them) takes its FFTW plans from one cache (src/core/fftw_plan_cache.hpp), so this
// one setting governs them all.
#include <string>

namespace ssm {

/// How FFTW plans are chosen for transforms planned from now on (process-wide):
///   estimate (default): heuristic, instant and deterministic;
///   measure: FFTW times candidate algorithms (FFTW_MEASURE) for at most `time_limit_s` seconds
///   per plan; faster transforms (figures: docs/convolution.md), at a planning cost of up to
///   seconds on first use of each size;
///   patient: FFTW_PATIENT, a wider timed search (minutes for large sizes without a limit).
/// Measured plans are remembered as FFTW wisdom: with wisdom for a size (made earlier in the
/// process or loaded with load_fft_wisdom), planning it again is instant. Plans already made
/// keep their effort; plans of each effort are cached separately. Results may differ in the
/// last bits between efforts, and measured plans can differ from run to run (they depend on
/// timings); estimate plans give the same bits on every run.
/// The effort also steers how fftconv cuts long rows (its cost model knows measured plans are
/// faster). Throws ssm::Error if time_limit_s is not finite and > 0.
enum class FftPlanning { estimate, measure, patient };
void set_fft_planning(FftPlanning effort, double time_limit_s = 10.0);
FftPlanning fft_planning() noexcept;

/// Writes the FFTW wisdom of this process (double and float) to `path` (a text file, replaced
/// atomically). Throws ssm::Error naming `path` if it cannot be written.
void save_fft_wisdom(const std::string& path);
/// Adds the wisdom in `path` (written by save_fft_wisdom, on the same machine and FFTW
/// version: wisdom is a record of timings) to this process: later measure / patient plans of
/// the sizes it covers are made without timing anything. Returns false if the file does not
/// exist; throws ssm::Error naming `path` if it is not FFTW wisdom.
///
/// The environment variable SSM_FFTW_WISDOM=PATH does both on its own: the file is loaded
/// before the first plan of the process, and saved again after every measure / patient plan
/// that added to it (so a batch job pays for measuring each size once per machine).
bool load_fft_wisdom(const std::string& path);

}  // namespace ssm
