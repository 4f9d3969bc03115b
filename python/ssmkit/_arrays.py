"""Output allocation and stream lookup for the compiled module (python/src/arrays.cpp).

The module allocates NumPy outputs itself; outputs of CUDA inputs (and of CuPy) are allocated
here by the caller's own framework, on the device of the reference input, so they come from the
framework's allocator like any tensor of the caller.
"""


def empty(ref, shape, dtype):
    """An uninitialized array of `shape` and `dtype` (a NumPy dtype name) like `ref`."""
    mod = type(ref).__module__.split(".")[0]
    if mod == "torch":
        import torch

        return torch.empty(shape, dtype=getattr(torch, dtype), device=ref.device)
    if mod == "cupy":
        import cupy

        with cupy.cuda.Device(ref.device.id):
            return cupy.empty(shape, dtype=dtype)
    import numpy

    return numpy.empty(shape, dtype=dtype)


def current_stream(ref):
    """The cudaStream_t (as an int) the caller's framework is using for `ref`'s device."""
    mod = type(ref).__module__.split(".")[0]
    if mod == "torch":
        import torch

        return torch.cuda.current_stream(ref.device).cuda_stream
    if mod == "cupy":
        import cupy

        with cupy.cuda.Device(ref.device.id):
            return cupy.cuda.get_current_stream().ptr
    return 0
