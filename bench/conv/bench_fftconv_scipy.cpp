// ssm::fftconv against scipy.signal.fftconvolve, measured in the same run on the same data.
//
// Shapes (B = 1, float32, Lk = L): H = 64, L = 65536 and H = 16, L = 2^20 (issue 20), or the
// ones given with --shape H,L[,LK] (repeatable). For each shape the bench writes u, k, D to a
// temporary folder, starts bench/conv/scipy_fftconv_ref.py as a co-process (its docstring has
// the recipe and the protocol) and then, for R rounds, times in turn, in an order that rotates
// from round to round:
//   scipy      y = fftconvolve(u, k, "full", axes=-1)[:, :L] + D u   (one call)
//   per call   ssm::fftconv with a kernel it has not seen before (one tap stepped by one ulp
//              each call), so no kernel spectrum is kept between calls: every call transforms
//              the kernel, the input and the product (issue 20's figure)
//   kept       ssm::FFTConv<float>::apply, kernel spectra made once by the object
// Each time is the CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID; scipy: thread_time),
// so preemption by other processes on a shared machine is not counted; the ratios are scipy's
// time over ssmkit's in the same round. Reported: median, min and max over the rounds of the
// times and of the ratios, and the largest difference between ssmkit's y and scipy's.
// CPU time is the right clock for one thread only: run with OMP_NUM_THREADS=1 (the default
// here when the variable is unset), e.g. `OMP_NUM_THREADS=1 taskset -c 1 bench_conv_fftconv_scipy`.
//
// Options: --rounds R (default 7), --shape H,L[,LK], --plan LIST (comma-separated FFTW planning
// efforts, ssm::set_fft_planning: estimate (default), measure, patient; each effort is its own
// pair of paths in the same rounds; plans are made in the untimed warm-up call, measured ones
// taking seconds a size unless SSM_FFTW_WISDOM names a wisdom file that has them),
// --python EXE (default $SSM_BENCH_PYTHON, else /usr/bin/python3 if present, else python3),
// --script PATH (default $SSM_BENCH_SCRIPT, else scipy_fftconv_ref.py next to this source file,
// found from the compiled-in source path or from the executable's place in the build folder),
// --block LIST (comma-separated layouts, each its own pair of paths in the same rounds: P forces
// blocks of P samples (src/conv/fftconv_layout.hpp), -1 one FFT of the whole row, 0 the
// library's cost model (the default)), --no-scipy (ssmkit's times only),
// --quick (one round, H = 4, L = 4096: a smoke test).
#include <fcntl.h>
#include <omp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/compare.hpp"
#include "conv/fftconv_layout.hpp"
#include "ssm/conv/fftconv.hpp"
#include "ssm/core/cpu.hpp"
#include "ssm/core/fft_planning.hpp"

namespace {

double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return 1e3 * static_cast<double>(ts.tv_sec) + 1e-6 * static_cast<double>(ts.tv_nsec);
}

bool is_file(const std::string& p) { return access(p.c_str(), R_OK) == 0; }

/// bench/conv/scipy_fftconv_ref.py: beside __FILE__ (absolute, or relative to the build folder
/// when ccache rewrote it), or two levels above the executable (BUILD/bench/EXE).
std::string default_script() {
  const std::string name = "scipy_fftconv_ref.py";
  std::string src = __FILE__;
  src = src.substr(0, src.find_last_of('/') + 1);
  std::vector<std::string> candidates;
  if (!src.empty() && src[0] == '/') candidates.push_back(src + name);
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    std::string dir(exe);
    dir = dir.substr(0, dir.find_last_of('/'));      // BUILD/bench
    const std::string build = dir.substr(0, dir.find_last_of('/'));  // BUILD
    if (!src.empty() && src[0] != '/') candidates.push_back(build + "/" + src + name);
    candidates.push_back(build + "/../bench/conv/" + name);
  }
  for (const auto& c : candidates)
    if (is_file(c)) return c;
  return candidates.empty() ? name : candidates.front();
}

/// The scipy co-process: a child running scipy_fftconv_ref.py, one command line in, one line out.
class Scipy {
public:
  Scipy(const std::string& python, const std::string& script) {
    if (python.empty()) {  // --no-scipy
      banner_ = "unavailable: --no-scipy";
      return;
    }
    int to_child[2], from_child[2];
    if (pipe(to_child) || pipe(from_child)) throw std::runtime_error("pipe failed");
    std::fflush(stdout);  // the child must not inherit (and repeat) buffered output
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      dup2(to_child[0], 0);
      dup2(from_child[1], 1);
      close(to_child[1]);
      close(from_child[0]);
      execlp(python.c_str(), python.c_str(), script.c_str(), static_cast<char*>(nullptr));
      const std::string msg = "unavailable: could not run " + python + "\n";
      (void)!write(1, msg.data(), msg.size());
      _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    in_ = fdopen(to_child[1], "w");
    out_ = fdopen(from_child[0], "r");
    banner_ = read_line();
    ok_ = banner_.rfind("ready", 0) == 0;
  }
  ~Scipy() {
    if (in_) {
      std::fputs("quit\n", in_);
      std::fclose(in_);
    }
    if (out_) std::fclose(out_);
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
  }
  bool ok() const { return ok_; }
  const std::string& banner() const { return banner_; }
  std::string ask(const std::string& cmd) {
    std::fputs((cmd + "\n").c_str(), in_);
    std::fflush(in_);
    return read_line();
  }
  double run_cpu_ms() {
    const std::string r = ask("run");
    double cpu = 0, wall = 0;
    if (std::sscanf(r.c_str(), "cpu_ms=%lf wall_ms=%lf", &cpu, &wall) != 2)
      throw std::runtime_error("scipy co-process answered: " + r);
    return cpu;
  }

private:
  std::string read_line() {
    char buf[4096];
    if (!std::fgets(buf, sizeof buf, out_)) return "unavailable: the co-process closed its output";
    std::string s(buf);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
  }
  pid_t pid_ = -1;
  FILE* in_ = nullptr;
  FILE* out_ = nullptr;
  std::string banner_;
  bool ok_ = false;
};

struct Shape {
  std::ptrdiff_t H, L, Lk;
};

struct Stats {
  double median, min, max;
};
Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  const double med = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  return {med, v.front(), v.back()};
}

void write_raw(const std::string& path, const std::vector<float>& v) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  if (!f) throw std::runtime_error("could not write " + path);
}
std::vector<float> read_raw(const std::string& path, std::size_t count) {
  std::vector<float> v(count);
  std::ifstream f(path, std::ios::binary);
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(count * sizeof(float)));
  if (!f) throw std::runtime_error("could not read " + path);
  return v;
}

const char* effort_name(ssm::FftPlanning e) {
  return e == ssm::FftPlanning::measure ? "measure" : e == ssm::FftPlanning::patient ? "patient" : "estimate";
}

void run_shape(const Shape& s, int rounds, const std::vector<ssm::FftPlanning>& efforts,
               const std::vector<std::ptrdiff_t>& blocks, const std::string& python, const std::string& script,
               const std::string& dir) {
  const std::ptrdiff_t H = s.H, L = s.L, Lk = s.Lk;
  std::printf("\n## H=%td, L=%td, Lk=%td (B=1, float32)\n", H, L, Lk);
  std::vector<float> u(static_cast<std::size_t>(H * L)), k(static_cast<std::size_t>(H * Lk)), D(H);
  std::mt19937_64 rng(42);
  std::normal_distribution<float> nd;
  for (auto& x : u) x = nd(rng);
  for (std::ptrdiff_t h = 0; h < H; ++h)
    for (std::ptrdiff_t j = 0; j < Lk; ++j)
      k[static_cast<std::size_t>(h * Lk + j)] = nd(rng) * std::exp(-static_cast<float>(j) / (static_cast<float>(Lk) / 8.0f));
  for (auto& x : D) x = nd(rng);
  write_raw(dir + "/u.f32", u);
  write_raw(dir + "/k.f32", k);
  write_raw(dir + "/D.f32", D);

  Scipy py(python, script);
  const bool have_scipy = py.ok() && py.ask("load " + dir + " " + std::to_string(H) + " " +
                                            std::to_string(L) + " " + std::to_string(Lk)) == "ok";
  std::printf("baseline: %s\n", have_scipy ? py.banner().c_str() : ("none (" + py.banner() + ")").c_str());

  // One "path" per planning effort and kind: per call (a kernel ssm::fftconv has never seen:
  // one tap stepped by an ulp, so its spectra cannot have been kept) and kept (FFTConv::apply).
  struct Path {
    std::string name;
    ssm::FftPlanning effort;
    std::ptrdiff_t block;  // fftconv_force_block: 0 the cost model, -1 one FFT a row, P blocks of P
    bool kept;
    std::unique_ptr<ssm::FFTConv<float>> conv;
    std::vector<float> y;
    std::vector<double> t, ratio;
    double first_ms = 0;
  };
  std::vector<Path> paths;
  const ssm::View3<const float> uv(u.data(), 1, H, L);
  float* tap = &k[0];
  for (const auto e : efforts)
    for (const std::ptrdiff_t blk : blocks)
      for (const bool kept : {false, true}) {
        Path p;
        p.effort = e;
        p.block = blk;
        p.kept = kept;
        p.name = std::string(kept ? "FFTConv::apply (kernel spectra kept)"
                                  : "ssm::fftconv, per call (kernel spectra not kept)") +
                 ", " + effort_name(e);
        if (blk > 0) p.name += ", forced P=" + std::to_string(blk);
        if (blk < 0) p.name += ", forced one FFT a row";
        p.y.resize(u.size());
        paths.push_back(std::move(p));
      }
  auto run = [&](Path& p) {
    ssm::set_fft_planning(p.effort, 60.0);
    ssm::detail::fftconv_force_block(p.block);
    const ssm::View3<float> yv(p.y.data(), 1, H, L);
    if (p.kept) {
      p.conv->apply(uv, yv);
    } else {
      *tap = std::nextafter(*tap, 1e30f);
      ssm::fftconv<float>(uv, k.data(), Lk, D.data(), yv);
    }
  };
  // Warm-up, untimed: plans (measured ones: seconds per size, instant with SSM_FFTW_WISDOM),
  // first touch of the buffers; the objects make their spectra here.
  for (Path& p : paths) {
    ssm::set_fft_planning(p.effort, 60.0);
    ssm::detail::fftconv_force_block(p.block);
    const auto lay = ssm::detail::fftconv_layout(L, std::min(L, Lk), p.kept, sizeof(std::complex<float>));
    std::printf("layout, %s: ", p.name.c_str());
    if (lay.blocked)
      std::printf("blocks of P=%td (FFT n=%td, %td kernel blocks, %td input blocks)", lay.P, lay.n, lay.kk, lay.kin(L));
    else
      std::printf("one FFT of n=%td a row", lay.n);
    const double t0 = thread_cpu_ms();
    if (p.kept) p.conv = std::make_unique<ssm::FFTConv<float>>(H, L, k.data(), Lk, D.data());
    run(p);
    p.first_ms = thread_cpu_ms() - t0;
    std::printf("; first call (plans, spectra: untimed) %.1f ms\n", p.first_ms);
  }
  if (have_scipy) py.run_cpu_ms();

  std::vector<double> t_sp;
  const std::size_t items = paths.size() + 1;  // + scipy
  for (int r = 0; r < rounds; ++r) {
    double sp = 0;
    std::vector<double> t(paths.size());
    for (std::size_t i = 0; i < items; ++i) {
      const std::size_t which = (static_cast<std::size_t>(r) + i) % items;  // rotating order
      if (which == paths.size()) {
        if (have_scipy) sp = py.run_cpu_ms();
        continue;
      }
      const double t0 = thread_cpu_ms();
      run(paths[which]);
      t[which] = thread_cpu_ms() - t0;
    }
    t_sp.push_back(sp);
    std::fprintf(stderr, "round %d: scipy %.1f ms", r, sp);
    for (std::size_t i = 0; i < paths.size(); ++i) {
      paths[i].t.push_back(t[i]);
      paths[i].ratio.push_back(sp / t[i]);
      std::fprintf(stderr, ", %.1f", t[i]);
    }
    std::fprintf(stderr, "\n");
  }

  double diff = -1;
  if (have_scipy && py.ask("save " + dir + "/y.f32") == "ok") {
    const std::vector<float> ys = read_raw(dir + "/y.f32", u.size());
    diff = 0;
    for (const Path& p : paths) diff = std::max(diff, ssm::bench::max_rel_diff(p.y, ys));
  }
  std::printf("| path | median ms | min..max ms | x scipy, median | min..max |\n|---|---|---|---|---|\n");
  if (have_scipy) {
    const Stats sp = stats(t_sp);
    std::printf("| scipy.signal.fftconvolve | %.1f | %.1f..%.1f | 1 | |\n", sp.median, sp.min, sp.max);
  }
  for (const Path& p : paths) {
    const Stats t = stats(p.t);
    std::printf("| %s | %.1f | %.1f..%.1f |", p.name.c_str(), t.median, t.min, t.max);
    if (have_scipy) {
      const Stats q = stats(p.ratio);
      std::printf(" x%.2f | x%.2f..x%.2f |\n", q.median, q.min, q.max);
    } else {
      std::printf(" | |\n");
    }
  }
  if (diff >= 0) std::printf("max |y - y_scipy| / max |y_scipy| over the paths = %.2e\n", diff);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (!std::getenv("OMP_NUM_THREADS")) omp_set_num_threads(1);  // one thread unless told otherwise
  int rounds = 7;
  std::vector<Shape> shapes;
  std::vector<ssm::FftPlanning> efforts{ssm::FftPlanning::estimate};
  std::vector<std::ptrdiff_t> blocks{0};
  bool no_scipy = false;
  std::string python;
  if (const char* p = std::getenv("SSM_BENCH_PYTHON")) python = p;
  if (python.empty()) python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
  std::string script;
  if (const char* p = std::getenv("SSM_BENCH_SCRIPT")) script = p;
  if (script.empty()) script = default_script();
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--rounds") {
      rounds = std::max(1, std::atoi(next().c_str()));
    } else if (a == "--shape") {
      Shape s{0, 0, 0};
      const std::string v = next();
      const int got = std::sscanf(v.c_str(), "%td,%td,%td", &s.H, &s.L, &s.Lk);
      if (got < 2 || s.H < 1 || s.L < 1) {
        std::fprintf(stderr, "--shape wants H,L[,LK] with H, L >= 1, got %s\n", v.c_str());
        return 2;
      }
      if (got == 2 || s.Lk < 1) s.Lk = s.L;
      shapes.push_back(s);
    } else if (a == "--plan") {
      efforts.clear();
      std::string v = next() + ",";
      for (std::size_t pos; (pos = v.find(',')) != std::string::npos; v.erase(0, pos + 1)) {
        const std::string e = v.substr(0, pos);
        if (e == "estimate") efforts.push_back(ssm::FftPlanning::estimate);
        else if (e == "measure") efforts.push_back(ssm::FftPlanning::measure);
        else if (e == "patient") efforts.push_back(ssm::FftPlanning::patient);
        else {
          std::fprintf(stderr, "--plan wants a comma-separated list of estimate, measure, patient; got %s\n", e.c_str());
          return 2;
        }
      }
    } else if (a == "--block") {
      blocks.clear();
      std::string v = next() + ",";
      for (std::size_t pos; (pos = v.find(',')) != std::string::npos; v.erase(0, pos + 1))
        blocks.push_back(std::atoll(v.substr(0, pos).c_str()));
    } else if (a == "--no-scipy") {
      no_scipy = true;
    } else if (a == "--python") {
      python = next();
    } else if (a == "--script") {
      script = next();
    } else if (a == "--quick") {
      rounds = 1;
      shapes = {{4, 4096, 4096}};
    } else {
      std::fprintf(stderr, "unknown option %s (see the header of bench/conv/bench_fftconv_scipy.cpp)\n", a.c_str());
      return 2;
    }
  }
  if (no_scipy) python.clear();
  if (shapes.empty()) shapes = {{64, 65536, 65536}, {16, std::ptrdiff_t{1} << 20, std::ptrdiff_t{1} << 20}};

  char tmpl[] = "/tmp/ssm_fftconv_scipy.XXXXXX";
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/ssm_fftconv_scipy.XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  const char* dir = mkdtemp(buf.data());
  if (!dir) dir = mkdtemp(tmpl);
  if (!dir) {
    std::fprintf(stderr, "could not create a temporary folder\n");
    return 1;
  }
  std::printf("# ssm::fftconv vs scipy.signal.fftconvolve, same run, same data\n");
  std::printf("cpu path: %s; OpenMP threads: %d; %d rounds; times: thread CPU time\n",
              ssm::cpu_description().c_str(), omp_get_max_threads(), rounds);
  int rc = 0;
  try {
    for (const Shape& s : shapes) run_shape(s, rounds, efforts, blocks, python, script, dir);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    rc = 1;
  }
  for (const char* f : {"u.f32", "k.f32", "D.f32", "y.f32"}) std::remove((std::string(dir) + "/" + f).c_str());
  rmdir(dir);
  return rc;
}
