"""The Python package on the CPU: no copies of the caller's arrays, errors that name the
argument, the GIL released during compute, torch CPU tensors in and out, second paths for the
ops the conformance cases do not cover (bidirectional and cross scans), models and streamers,
and the generated stubs."""
import os
import threading

import numpy as np
import pytest

import ssmkit  # noqa: E402  (CTest registers these files only when the module is built)
from ssmkit import _ssmkit  # noqa: E402

rng = np.random.default_rng(0)


def scan_inputs(b=2, d=4, n=3, L=16, dtype=np.float32, groups=1):
    u = rng.standard_normal((b, d, L)).astype(dtype)
    delta = (0.1 + np.abs(rng.standard_normal((b, d, L)))).astype(dtype)
    A = -np.abs(rng.standard_normal((d, n))).astype(dtype)
    B = rng.standard_normal((b, groups, n, L)).astype(dtype)
    C = rng.standard_normal((b, groups, n, L)).astype(dtype)
    D = rng.standard_normal(d).astype(dtype)
    z = rng.standard_normal((b, d, L)).astype(dtype)
    return u, delta, A, B, C, D, z


def selective_scan_ref(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, h0=None):
    """mamba_ssm's selective_scan_ref, in NumPy float64 (variable B, C (b, g, n, L))."""
    u, delta, A, B, C = (np.asarray(x, np.float64) for x in (u, delta, A, B, C))
    b, d, L = u.shape
    g = B.shape[1]
    if delta_bias is not None:
        delta = delta + np.asarray(delta_bias, np.float64)[None, :, None]
    if delta_softplus:
        delta = np.log1p(np.exp(delta))
    Bx = np.repeat(B, d // g, axis=1)
    Cx = np.repeat(C, d // g, axis=1)
    h = np.zeros((b, d, A.shape[1])) if h0 is None else np.array(h0, np.float64)
    ys = []
    for t in range(L):
        h = np.exp(delta[:, :, t, None] * A) * h + delta[:, :, t, None] * Bx[:, :, :, t] * u[:, :, t, None]
        ys.append(np.sum(h * Cx[:, :, :, t], axis=-1))
    y = np.stack(ys, axis=-1)
    if D is not None:
        y = y + np.asarray(D, np.float64)[None, :, None] * u
    if z is not None:
        z = np.asarray(z, np.float64)
        y = y * z / (1 + np.exp(-z))
    return y, h


def last_call():
    return dict(_ssmkit._last_call())


# ---- no copies ---------------------------------------------------------------------------

def test_no_copy_of_contiguous_inputs_and_outputs_are_what_the_op_wrote():
    u, delta, A, B, C, D, z = scan_inputs()
    out, last = ssmkit.selective_scan(u, delta, A, B, C, D, z, return_last_state=True)
    ptrs = _ssmkit._last_call()
    seen = dict(ptrs)
    for name, arr in dict(u=u, delta=delta, A=A, B=B, C=C, D=D, z=z).items():
        assert seen[name] == arr.ctypes.data, f"'{name}' was copied before the op read it"
    outs = [p for n, p in ptrs if n == "out"]
    assert outs == [out.ctypes.data, last.ctypes.data]


def test_no_copy_of_strided_views():
    u, delta, A, B, C, D, z = scan_inputs(L=32)
    big = rng.standard_normal((2, 4, 64)).astype(np.float32)
    view = big[:, :, ::2]  # strides (256, 64, 2) elements: not contiguous
    assert not view.flags.c_contiguous
    out = ssmkit.selective_scan(view, delta, A, B, C, D, z)
    assert last_call()["u"] == view.ctypes.data
    np.testing.assert_array_equal(out, ssmkit.selective_scan(np.ascontiguousarray(view), delta, A, B, C, D, z))
    # a channels-last tensor permuted to (b, d, L): the scan reads it in place
    ul = np.ascontiguousarray(rng.standard_normal((2, 32, 4)).astype(np.float32))
    out = ssmkit.selective_scan(ul.transpose(0, 2, 1), delta, A, B, C, D, z)
    assert last_call()["u"] == ul.ctypes.data
    np.testing.assert_array_equal(out, ssmkit.selective_scan(np.ascontiguousarray(ul.transpose(0, 2, 1)), delta, A, B, C, D, z))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
def test_numpy_arguments_are_read_in_place_in_any_layout(dtype):
    """NumPy arrays are read from their fields, not through the buffer protocol; what the op
    reads must be what the array holds: the caller's pointer and strides in every layout (a
    strided, transposed, offset or size-1-axis view, a subclass), for every dtype."""
    real = np.float32 if dtype in (np.float32, np.complex64) else np.float64
    u, delta, _, _, _, D, z = scan_inputs(L=24, dtype=real)
    A = -np.abs(rng.standard_normal((4, 3))).astype(real)
    B = rng.standard_normal((2, 1, 3, 24)).astype(real)
    C = rng.standard_normal((2, 1, 3, 24)).astype(real)
    if np.dtype(dtype).kind == "c":
        A, B, C = (x + 0.5j * np.abs(x) for x in (A, B, C))
        A, B, C = A.astype(dtype), B.astype(dtype), C.astype(dtype)
    want = ssmkit.selective_scan(u, delta, A, B, C, D, z)
    big = rng.standard_normal((3, 5, 4, 50)).astype(real)
    views = {
        "strided": big[1, 2:4, :, 1:49:2],  # shape (2, 4, 24), element strides (200, 50, 2), offset
        "transposed": np.ascontiguousarray(u.transpose(2, 1, 0)).transpose(2, 1, 0),
        "size-1 axis": np.ascontiguousarray(u[:1]),
        "subclass": u.view(type("Sub", (np.ndarray,), {})),
    }
    for name, v in views.items():
        b = v.shape[0]
        rest = (delta[:b], A, B[:b], C[:b], D, z[:b])
        ref = ssmkit.selective_scan(np.ascontiguousarray(v), *rest)
        out = ssmkit.selective_scan(v, *rest)
        assert last_call()["u"] == v.__array_interface__["data"][0], name
        assert last_call()["A"] == A.ctypes.data
        np.testing.assert_array_equal(out, ref, err_msg=name)
        if name == "transposed":
            np.testing.assert_array_equal(out, want)


def test_numpy_arrays_of_dtypes_no_op_reads_are_refused_by_name():
    u, delta, A, B, C, D, z = scan_inputs()
    for bad, text in [(u.astype(">f4"), "non-native byte order"), (u.astype(object), "dtype object"),
                      (np.zeros(u.shape, [("a", "f4")]), "dtype [('a', '<f4')]")]:
        with pytest.raises(TypeError) as e:
            ssmkit.selective_scan(u, bad, A, B, C)
        assert "argument 'delta' must be a float32, float64, complex64 or complex128 array" in str(e.value)
        assert text in str(e.value), str(e.value)
    with pytest.raises(TypeError, match="argument 'u' must be a float32, float64"):
        ssmkit.selective_scan(u.astype(">f8"), delta, A, B, C)


def test_state_update_writes_the_callers_state_in_place():
    b, d, n = 2, 4, 3
    state = rng.standard_normal((b, d, n)).astype(np.float32)
    before = state.copy()
    x, dt, z = (rng.standard_normal((b, d)).astype(np.float32) for _ in range(3))
    A = -np.abs(rng.standard_normal((d, n))).astype(np.float32)
    Bm, Cm = (rng.standard_normal((b, n)).astype(np.float32) for _ in range(2))
    out = ssmkit.selective_state_update(state, x, dt, A, Bm, Cm, z=z, dt_softplus=True)
    dtp = np.log1p(np.exp(dt.astype(np.float64)))
    want = np.exp(dtp[..., None] * A) * before + dtp[..., None] * Bm[:, None, :] * x[..., None]
    np.testing.assert_allclose(state, want, rtol=1e-5, atol=1e-6)
    y = np.sum(want * Cm[:, None, :], -1) * z / (1 + np.exp(-z))
    np.testing.assert_allclose(out, y, rtol=1e-4, atol=1e-5)


def test_torch_cpu_tensors_in_and_out_without_copies():
    torch = pytest.importorskip("torch")
    u, delta, A, B, C, D, z = (torch.from_numpy(x) for x in scan_inputs())
    out = ssmkit.selective_scan(u, delta, A, B, C, D, z)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.shape == u.shape
    assert last_call()["u"] == u.data_ptr() and last_call()["out"] == out.data_ptr()
    np.testing.assert_array_equal(out.numpy(), ssmkit.selective_scan(*(t.numpy() for t in (u, delta, A, B, C, D, z))))


# ---- results ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_selective_scan_matches_the_reference(dtype, tol):
    u, delta, A, B, C, D, z = scan_inputs(b=2, d=6, n=4, L=40, dtype=dtype, groups=2)
    db = rng.standard_normal(6).astype(dtype)
    h0 = rng.standard_normal((2, 6, 4)).astype(dtype)
    out, last = ssmkit.selective_scan(u, delta, A, B, C, D, z, db, True, True, h0=h0)
    y, h = selective_scan_ref(u, delta, A, B, C, D, z, db, True, h0)
    np.testing.assert_allclose(out, y, rtol=tol, atol=tol)
    np.testing.assert_allclose(last, h, rtol=tol, atol=tol)
    assert out.dtype == dtype and last.shape == (2, 6, 4)
    # B, C of (batch, dstate, length) are one group
    out1 = ssmkit.selective_scan(u, delta, A, np.ascontiguousarray(B[:, 0]), np.ascontiguousarray(C[:, 0]), D, z, db, True)
    np.testing.assert_allclose(out1, selective_scan_ref(u, delta, A, B[:, :1], C[:, :1], D, z, db, True)[0], rtol=tol, atol=tol)


def test_bidirectional_scan_equals_two_selective_scans():
    u, delta, A, B, C, D, z = scan_inputs(L=20, dtype=np.float64)
    ub, deltab, Ab, Bb, Cb, Db, _ = scan_inputs(L=20, dtype=np.float64)
    out = ssmkit.bidirectional_selective_scan(u, delta, A, B, C, ub, deltab, Ab, Bb, Cb, D, Db, z,
                                              delta_softplus=True, out_scale=0.5)
    f = ssmkit.selective_scan(u, delta, A, B, C, D, delta_softplus=True)
    flip = lambda x: np.ascontiguousarray(x[..., ::-1])  # noqa: E731
    b = flip(ssmkit.selective_scan(flip(ub), flip(deltab), Ab, flip(Bb), flip(Cb), Db, delta_softplus=True))
    want = 0.5 * (f + b) * z / (1 + np.exp(-z))
    np.testing.assert_allclose(out, want, rtol=1e-10, atol=1e-12)


def test_cross_scan_equals_the_unfused_recipe():
    bt, d, n, H, W = 2, 3, 4, 3, 5
    L = H * W
    u = rng.standard_normal((bt, d, H, W))
    delta = 0.5 * rng.standard_normal((bt, 4 * d, H, W))
    A = -np.abs(rng.standard_normal((4 * d, n)))
    B, C = (rng.standard_normal((bt, 4, n, H, W)) for _ in range(2))
    D, db = rng.standard_normal(4 * d), rng.standard_normal(4 * d)
    out, last = ssmkit.cross_selective_scan(u, delta, A, B, C, D, db, True, True)

    pos0 = np.arange(L)
    pos1 = np.array([(l % H) * W + l // H for l in range(L)])  # column-major: (h, w) = (l mod H, l div H)
    orders = [pos0, pos1, pos0[::-1], pos1[::-1]]
    uf, df = u.reshape(bt, d, L), delta.reshape(bt, 4 * d, L)
    Bf, Cf = B.reshape(bt, 4, n, L), C.reshape(bt, 4, n, L)
    xs = np.concatenate([uf[:, :, o] for o in orders], axis=1)
    ds = np.concatenate([df[:, k * d:(k + 1) * d][:, :, orders[k]] for k in range(4)], axis=1)
    Bs = np.stack([Bf[:, k][:, :, orders[k]] for k in range(4)], axis=1)
    Cs = np.stack([Cf[:, k][:, :, orders[k]] for k in range(4)], axis=1)
    xs, ds, Bs, Cs = (np.ascontiguousarray(a) for a in (xs, ds, Bs, Cs))
    ys, hs = ssmkit.selective_scan(xs, ds, A, Bs, Cs, D, None, db, True, True)
    want = np.zeros((bt, d, L))
    for k in range(4):
        yk = np.empty((bt, d, L))
        yk[:, :, orders[k]] = ys[:, k * d:(k + 1) * d]
        want += yk
    np.testing.assert_allclose(out.reshape(bt, d, L), want, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(last, hs, rtol=1e-10, atol=1e-10)


def test_fftconv_matches_direct_convolution():
    u = rng.standard_normal((2, 3, 50))
    k = rng.standard_normal((3, 20))
    D = rng.standard_normal(3)
    y = ssmkit.fftconv(u, k, D)
    want = np.stack([[np.convolve(u[b, h], k[h])[:50] + D[h] * u[b, h] for h in range(3)] for b in range(2)])
    np.testing.assert_allclose(y, want, rtol=1e-10, atol=1e-10)


# ---- errors that name the argument ----------------------------------------------------------

def test_errors_name_the_argument():
    u, delta, A, B, C, D, z = scan_inputs()
    cases = [
        (TypeError, "argument 'B' must be float32", lambda: ssmkit.selective_scan(u, delta, A, B.astype(np.float64), C)),
        (TypeError, "argument 'u' must be float32 or float64", lambda: ssmkit.selective_scan(u.astype(np.int32), delta, A, B, C)),
        (TypeError, "argument 'delta' must be an array", lambda: ssmkit.selective_scan(u, [1, 2], A, B, C)),
        (ValueError, "argument 'delta' must have shape (2, 4, 16)", lambda: ssmkit.selective_scan(u, delta[:, :3], A, B, C)),
        (ValueError, "argument 'D' must have shape (4,)", lambda: ssmkit.selective_scan(u, delta, A, B, C, D[:2])),
        (ValueError, "argument 'A' must be C-contiguous", lambda: ssmkit.selective_scan(u, delta, np.asfortranarray(np.tile(A, (1, 2)))[:, :3], B, C)),
        (ValueError, "argument 'u' must not have negative strides", lambda: ssmkit.selective_scan(u[..., ::-1], delta, A, B, C)),
        (ValueError, "argument 'B' has 3 groups, which must divide dim = 4", lambda: ssmkit.selective_scan(u, delta, A, np.repeat(B, 3, 1), np.repeat(C, 3, 1))),
        (TypeError, "argument 'C' must be real (A is real)", lambda: ssmkit.selective_scan(u, delta, A, B, C.astype(np.complex64))),
        (ValueError, "argument 'state' must be writable", lambda: ssmkit.selective_state_update(_readonly(np.zeros((2, 4, 3), np.float32)), u[..., 0], u[..., 0], A, B[:, 0, :, 0], C[:, 0, :, 0])),
        (ValueError, "argument 'k' must have shape (4, 5)", lambda: ssmkit.fftconv(u, np.zeros((3, 5), np.float32))),
        (ValueError, "argument 'method'", lambda: ssmkit.discretize(np.eye(2), np.ones((2, 1)), np.ones((1, 2)), np.zeros((1, 1)), 0.1, "nope")),
        (ValueError, "argument 'dtype' must be 'float32' or 'float64'", lambda: ssmkit.MoEFFN({}, dtype="half")),
    ]
    for exc, text, fn in cases:
        with pytest.raises(exc) as e:
            fn()
        assert text in str(e.value), f"expected {text!r} in {e.value!r}"


def _readonly(a):
    a.flags.writeable = False
    return a


def test_missing_or_bad_model_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-such.safetensors"):
        ssmkit.load_model(tmp_path / "no-such.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(ValueError, match="bad.safetensors"):
        ssmkit.load_model(bad)


def test_layer_weights_are_checked():
    with pytest.raises(ValueError, match="in_proj.weight"):
        ssmkit.MambaBlock({"x": np.zeros(3)})
    with pytest.raises(TypeError, match=r"weights\['router.weight'\]' must be float32 or float64"):
        ssmkit.MoEFFN({"router.weight": np.zeros((2, 2), np.int64)})


# ---- the GIL ------------------------------------------------------------------------------

def test_the_gil_is_released_during_compute():
    """Another Python thread keeps running while a long scan computes (with the GIL held it
    could not run a single bytecode until the call returned)."""
    import sys

    u, delta, A, B, C, D, z = scan_inputs(b=8, d=64, n=16, L=4096)
    inside = threading.Event()
    done = threading.Event()
    progress = []

    def work():
        inside.set()
        for _ in range(3):
            ssmkit.selective_scan(u, delta, A, B, C, D, z)
        done.set()

    old = sys.getswitchinterval()
    sys.setswitchinterval(0.001)
    try:
        t = threading.Thread(target=work)
        t.start()
        inside.wait()
        while not done.is_set():
            progress.append(1)
        t.join()
    finally:
        sys.setswitchinterval(old)
    assert len(progress) > 10000, f"the main thread ran only {len(progress)} loop iterations during the scans"


# ---- models and streamers -----------------------------------------------------------------

@pytest.fixture
def s4d_model(tmp_path):
    torch = pytest.importorskip("torch")
    import export_s4d as es

    torch.manual_seed(1)
    path = tmp_path / "m.safetensors"
    es.export_s4d(es.S4Model(d_input=2, d_output=2, d_model=8, n_layers=2, d_state=8), str(path), sample_rate=16000.0)
    return path


def test_model_forward_and_stream_agree(s4d_model):
    m = ssmkit.load_model(s4d_model, "float64")
    assert m.arch == "s4d" and m.d_input == 2 and m.causal and "stream" in m.modes
    x = rng.standard_normal((3, 100, 2))
    y = m.forward(x)
    assert y.shape == (3, 100, 2)
    for mode in m.modes:
        np.testing.assert_allclose(m.forward(x, mode=mode), y, rtol=1e-9, atol=1e-9)
    s = m.stream(sample_rate=16000, max_block=16, channels=3)
    planar = np.ascontiguousarray(x)  # (channels, n, d_input)
    got = np.concatenate([s.process(np.ascontiguousarray(planar[:, t:t + 16])) for t in range(0, 100, 16)], axis=1)
    np.testing.assert_allclose(got, y, rtol=1e-9, atol=1e-9)


def test_streamer_state_round_trip_and_reset(s4d_model):
    m = ssmkit.load_model(s4d_model)
    s = m.stream(sample_rate=16000, max_block=32)
    x = rng.standard_normal((64, 2)).astype(np.float32)
    s.process(x[:32])
    saved = s.state
    a = s.process(x[32:]).copy()
    s.set_state(saved)
    out = np.empty((32, 2), np.float32)
    b = s.process(x[32:], out=out)
    assert b is out
    np.testing.assert_array_equal(a, out)
    s.reset()
    np.testing.assert_array_equal(s.process(x[:32]), m.stream(sample_rate=16000, max_block=32).process(x[:32]))
    with pytest.raises(ValueError, match="more than max_block = 32"):
        s.process(np.zeros((33, 2), np.float32))
    with pytest.raises(ValueError, match="argument 'state' must have shape"):
        s.set_state(np.zeros(3, np.float32))


def test_model_matches_the_cli(s4d_model, tmp_path, ssmkit):
    x = rng.standard_normal((2, 300)).astype(np.float32)  # (C, L): C = d_input channels
    np.save(tmp_path / "in.npy", x)
    ssmkit("run", "--model", s4d_model, tmp_path / "in.npy", "-o", tmp_path / "out.npy", "--rate", 16000)
    import ssmkit.ray as sray  # the function the Ray workers run (no Ray needed for it)

    got = sray.run_model(_pkg().load_model(s4d_model), x, 16000.0)
    np.testing.assert_array_equal(got, np.load(tmp_path / "out.npy"))


def _pkg():
    return ssmkit


# ---- stubs --------------------------------------------------------------------------------

def test_stubs_are_generated():
    pyi = os.path.join(os.path.dirname(_ssmkit.__file__), "_ssmkit.pyi")
    text = open(pyi).read()
    for name in ("def selective_scan(", "def selective_state_update(", "def fftconv(", "class Model", "class Streamer",
                 "h_t   = exp(dt_t A) * h_{t-1}"):
        assert name in text, name
