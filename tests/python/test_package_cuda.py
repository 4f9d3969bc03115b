"""The package on the GPU with torch CUDA tensors: no host round trip and no copy (the op reads
the caller's device pointers and writes a tensor of the caller's device), work queued on the
caller's current stream, results equal to the CPU path, errors for mixed devices.

Skipped only on a machine without a GPU (torch.cuda.is_available() false); on a machine with a
GPU an ssmkit built without CUDA fails here (it cannot take the tensors).
"""
import numpy as np
import pytest

import ssmkit  # noqa: E402  (CTest registers these files only when the module is built)
torch = pytest.importorskip("torch")
from ssmkit import _ssmkit  # noqa: E402

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU on this machine")


def inputs(b=2, d=8, n=4, L=64, groups=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(b, d, L, generator=g)
    delta = 0.1 + torch.rand(b, d, L, generator=g)
    A = -torch.rand(d, n, generator=g) - 0.5
    B = torch.randn(b, groups, n, L, generator=g)
    C = torch.randn(b, groups, n, L, generator=g)
    D = torch.randn(d, generator=g)
    z = torch.randn(b, d, L, generator=g)
    db = torch.randn(d, generator=g)
    return u, delta, A, B, C, D, z, db


def test_selective_scan_on_cuda_tensors_without_copies():
    cpu = inputs()
    gpu = [t.cuda() for t in cpu]
    out, last = ssmkit.selective_scan(*gpu, True, True)
    assert out.is_cuda and out.device == gpu[0].device and last.is_cuda
    seen = dict(_ssmkit._last_call())
    for name, t in zip(["u", "delta", "A", "B", "C", "D", "z", "delta_bias"], gpu):
        assert seen[name] == t.data_ptr(), f"'{name}' was copied"
    assert [p for n, p in _ssmkit._last_call() if n == "out"] == [out.data_ptr(), last.data_ptr()]
    want, want_last = ssmkit.selective_scan(*[t.numpy() for t in cpu], True, True)
    np.testing.assert_allclose(out.cpu().numpy(), want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(last.cpu().numpy(), want_last, rtol=1e-4, atol=1e-4)


def test_work_is_queued_on_the_callers_stream():
    cpu = inputs(b=4, d=256, L=4096)
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        gpu = [t.cuda(non_blocking=False) for t in cpu]
        u2 = gpu[0] * 2  # queued on `side`: the scan must see it done (same stream), not a stale buffer
        out = ssmkit.selective_scan(u2, *gpu[1:], True)
        ref = ssmkit.selective_scan(u2, *gpu[1:], True, stream=side.cuda_stream)
    side.synchronize()
    want = ssmkit.selective_scan((cpu[0] * 2).numpy(), *[t.numpy() for t in cpu[1:]], True)
    np.testing.assert_allclose(out.cpu().numpy(), want, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(out.cpu().numpy(), ref.cpu().numpy())


def test_state_update_fftconv_and_diag_scan_on_cuda():
    b, d, n = 2, 8, 4
    state = torch.randn(b, d, n)
    x, dt, z = (torch.randn(b, d) for _ in range(3))
    A = -torch.rand(d, n) - 0.5
    Bm, Cm = (torch.randn(b, n) for _ in range(2))
    sg = state.cuda()
    out = ssmkit.selective_state_update(sg, x.cuda(), dt.cuda(), A.cuda(), Bm.cuda(), Cm.cuda(), z=z.cuda(), dt_softplus=True)
    sc = state.numpy().copy()
    want = ssmkit.selective_state_update(sc, x.numpy(), dt.numpy(), A.numpy(), Bm.numpy(), Cm.numpy(), z=z.numpy(), dt_softplus=True)
    np.testing.assert_allclose(out.cpu().numpy(), want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(sg.cpu().numpy(), sc, rtol=1e-4, atol=1e-5)  # updated in place on the GPU

    u, k, D = torch.randn(2, 3, 500), torch.randn(3, 200), torch.randn(3)
    y = ssmkit.fftconv(u.cuda(), k.cuda(), D.cuda())
    assert y.is_cuda
    np.testing.assert_allclose(y.cpu().numpy(), ssmkit.fftconv(u.numpy(), k.numpy(), D.numpy()), rtol=1e-3, atol=1e-3)

    H, N2 = 3, 4
    Ac = torch.complex(-torch.rand(H, N2) - 0.1, torch.randn(H, N2))
    Bc, Cc = (torch.complex(torch.randn(H, N2), torch.randn(H, N2)) for _ in range(2))
    dts = 0.01 + 0.1 * torch.rand(H)
    uu = torch.randn(2, H, 300)
    yg, hg = ssmkit.diag_scan(uu.cuda(), Ac.cuda(), Bc.cuda(), Cc.cuda(), dts.cuda(), return_last_state=True)
    yc, hc = ssmkit.diag_scan(uu.numpy(), Ac.numpy(), Bc.numpy(), Cc.numpy(), dts.numpy(), return_last_state=True)
    np.testing.assert_allclose(yg.cpu().numpy(), yc, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(hg.cpu().numpy(), hc, rtol=1e-3, atol=1e-4)


def test_mixed_devices_are_refused():
    u, delta, A, B, C, *_ = inputs()
    with pytest.raises(ValueError, match="argument 'delta' is on cpu but 'u' is on cuda:0"):
        ssmkit.selective_scan(u.cuda(), delta, A.cuda(), B.cuda(), C.cuda())
    with pytest.raises(TypeError, match="argument 'u' must be float32 or float64"):
        ssmkit.selective_scan(u.cuda().half(), delta.cuda(), A.cuda(), B.cuda(), C.cuda())
