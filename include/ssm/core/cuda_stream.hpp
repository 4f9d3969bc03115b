#pragma once
// ssm::CudaStream: a CUDA stream for queuing GPU work without waiting for it.
//
// The Device::cuda entry points (e.g. selective_scan(args, Device::cuda)) run on the legacy
// default stream of the current device and return once their work has finished. The overloads
// that take a CudaStream (selective_scan, selective_state_update, diag_scan, CudaFFTConv::apply,
// DeviceBuffer::upload_async / download_async) queue the same work on that stream, on the
// stream's device, and return at once (diag_scan first waits for the stream's earlier work: it
// reads its parameters back to the host):
//   * argument errors (shapes, strides, null pointers, an unsupported forced kernel) throw
//     ssm::Error before anything is queued;
//   * inputs must be ready when the stream reaches the work (written earlier on the same
//     stream, or waited for), and every buffer must stay alive until the work has run;
//   * outputs are ready after stream.synchronize(), and to later work on the same stream;
//   * a fault inside queued work surfaces as ssm::Error at the next synchronize() (or ready()).
// Work on different streams may run concurrently on the GPU.
//
// Handles cross no CUDA headers: handle() is the cudaStream_t as void*. Without CUDA compiled
// in, constructing a stream throws ssm::Error. Not for real-time paths (creation allocates).
namespace ssm {

class CudaStream {
public:
  /// A new stream on the current device, non-blocking (no implicit synchronization with the
  /// legacy default stream); destroyed with this object.
  CudaStream();
  /// A view of a stream the caller owns (e.g. a framework's stream) on the current device; not
  /// destroyed here. nullptr names the legacy default stream.
  static CudaStream wrap(void* cuda_stream);
  ~CudaStream();
  CudaStream(CudaStream&& o) noexcept;
  CudaStream& operator=(CudaStream&& o) noexcept;
  CudaStream(const CudaStream&) = delete;
  CudaStream& operator=(const CudaStream&) = delete;

  /// False after being moved from; ops given such a stream throw ssm::Error naming 'stream'.
  bool valid() const noexcept { return valid_; }
  /// The cudaStream_t (nullptr: the legacy default stream).
  void* handle() const noexcept { return stream_; }
  /// The GPU the stream belongs to; work queued on it runs there.
  int device() const noexcept { return device_; }
  /// Waits until all work queued so far has finished; throws ssm::Error if any of it failed.
  void synchronize() const;
  /// True when all work queued so far has finished (never blocks); throws on a failure.
  bool ready() const;

private:
  struct Wrap {};
  CudaStream(Wrap, void* s);
  void release() noexcept;
  void* stream_ = nullptr;
  int device_ = -1;
  bool owned_ = false;
  bool valid_ = false;
};

}  // namespace ssm
