"""Every conformance case (../shared/conformance/cases, or $SSM_CONFORMANCE_DIR as for the C++ runner, or $SSMKIT_CASES_DIR) through the Python
API of the package: NumPy on the CPU in float64 and float32, and, on a machine with a GPU, the
ops that take tensors through torch CUDA tensors (layers with device='cuda').

A case passes when |got - expected| <= atol + rtol |expected| element-wise (FORMAT.md; `atol.NAME`
overrides atol for expected.NAME; complex results compared on the modulus of the difference).
"""
import glob
import os

import numpy as np
import pytest

import ssmkit  # noqa: E402  (CTest registers these files only when the module is built)
safetensors_numpy = pytest.importorskip("safetensors.numpy")
from safetensors import safe_open  # noqa: E402

CASES_DIR = os.environ.get("SSM_CONFORMANCE_DIR") or os.environ.get("SSMKIT_CASES_DIR") or os.path.join(os.path.dirname(__file__), "../../../shared/conformance/cases")
CASES = sorted(glob.glob(os.path.join(CASES_DIR, "*.safetensors")))

# Ops whose Python entry takes device tensors (the rest are host-only APIs or run layers with
# device='cuda' on host arrays).
GPU_TENSOR_OPS = {"selective_scan", "selective_state_update", "fftconv", "diag_filter", "diag_kernel"}
GPU_LAYER_OPS = {"mamba_block", "bimamba_block", "ss2d_block", "moe_ffn", "moe_mamba_layer", "bst_layer"}


def load(path):
    with safe_open(path, "np") as f:
        meta = dict(f.metadata() or {})
    return safetensors_numpy.load_file(path), meta


def cplx(a):
    """(…, 2) real/imag pairs -> complex (…) without a copy of the pairs' layout."""
    a = np.ascontiguousarray(a)
    return a.view(np.complex128 if a.dtype == np.float64 else np.complex64)[..., 0]


def as_pairs(z):
    z = np.asarray(z)
    return np.stack([z.real, z.imag], axis=-1) if np.iscomplexobj(z) else z


def gpu_ok():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no GPU on this machine")
    return torch


class Backend:
    """Turns case inputs into the arrays of one backend and results back into NumPy."""

    def __init__(self, kind, dtype):
        self.kind, self.dtype = kind, dtype
        self.cdtype = np.complex128 if dtype == np.float64 else np.complex64
        if kind == "torch-cuda":
            self.torch = gpu_ok()

    def real(self, a):
        a = np.ascontiguousarray(a, dtype=self.dtype)
        return self.torch.from_numpy(a).cuda() if self.kind == "torch-cuda" else a

    def complex(self, a):
        a = cplx(np.asarray(a, dtype=np.float64)).astype(self.cdtype)
        return self.torch.from_numpy(a).cuda() if self.kind == "torch-cuda" else a

    def opt(self, t, name, complex_=False):
        if name not in t:
            return None
        return self.complex(t[name]) if complex_ else self.real(t[name])

    def host(self, x):
        if self.kind == "torch-cuda" and not isinstance(x, np.ndarray):
            x = x.cpu().numpy()
        return as_pairs(x)


def weights(t):
    return {k: v for k, v in t.items() if k != "x" and not k.startswith("expected.")}


def run_case(t, meta, be):
    op = meta["op"]
    f64 = be.dtype
    layer_device = "cuda" if be.kind == "torch-cuda" else "cpu"
    dt_name = "float64" if f64 == np.float64 else "float32"
    if op == "hippo":
        A, B = ssmkit.hippo(meta["measure"], int(meta["N"]))
        return {"A": A, "B": B}
    if op == "discretize":
        r = ssmkit.discretize(t["A"], t["B"], t["C"], t["D"], float(meta["dt"]), meta["method"],
                              meta.get("convention", "ssm"), float(meta.get("alpha", 0.5)))
        return dict(zip(["Ad", "Bd", "Cd", "Dd"], r))
    if op == "lti_filter":
        y, x = ssmkit.lti_filter(t["A"], t["B"], t["C"], t["D"], be.real(t["u"]), float(meta["dt"]), meta["method"],
                                 meta.get("convention", "ssm"), be.opt(t, "x0"))
        return {"y": y, "x": x}
    if op == "hippo_kernel":
        out = {}
        for alg in ("dense", "dplr"):
            out[f"K[{alg}]"] = ssmkit.hippo_kernel(meta["measure"], int(meta["N"]), t["C"], float(meta["dt"]),
                                                   int(meta["L"]), meta["method"], alg)
        return out
    if op == "diag_kernel":
        L = int(meta["L"])
        A, B, C = (cplx(t[n]).astype(be.cdtype) for n in "ABC")
        if be.kind == "torch-cuda":
            K = be.torch.empty((A.shape[0], L), dtype=be.torch.float32, device="cuda")
            return {"K": ssmkit.diag_kernel(A, B, C, t["dt"], L, meta["method"], out=K)}
        return {"K": ssmkit.diag_kernel(A, B, C, t["dt"], L, meta["method"])}
    if op == "diag_filter":
        y, h = ssmkit.diag_scan(be.real(t["u"]), be.complex(t["A"]), be.complex(t["B"]), be.complex(t["C"]),
                                be.real(t["dt"]), be.opt(t, "D"), meta["method"], return_last_state=True)
        out = {"y": y, "h": h}
        if be.kind == "numpy":  # the conv path too: diag_kernel + fftconv
            A, B, C = (cplx(t[n]).astype(be.cdtype) for n in "ABC")
            K = ssmkit.diag_kernel(A, B, C, t["dt"], int(meta["L"]), meta["method"]).astype(f64)
            out["y[conv]"] = ssmkit.fftconv(be.real(t["u"]), K, be.real(t["D"]))
        return out
    if op == "fftconv":
        return {"y": ssmkit.fftconv(be.real(t["u"]), be.real(t["k"]), be.opt(t, "D"))}
    if op == "selective_scan":
        cx = t["A"].ndim == 3
        out, last = ssmkit.selective_scan(
            be.real(t["u"]), be.real(t["delta"]), be.opt(t, "A", cx), be.opt(t, "B", cx), be.opt(t, "C", cx),
            be.opt(t, "D"), be.opt(t, "z"), be.opt(t, "delta_bias"), meta.get("delta_softplus") == "true",
            return_last_state=True, h0=be.opt(t, "h0", cx))
        return {"out": out, "last_state": last}
    if op == "selective_state_update":
        cx = t["A"].ndim == 3
        state = be.opt(t, "state", cx)
        out = ssmkit.selective_state_update(state, be.real(t["x"]), be.real(t["dt"]), be.opt(t, "A", cx),
                                            be.opt(t, "B", cx), be.opt(t, "C", cx), be.opt(t, "D"), be.opt(t, "z"),
                                            be.opt(t, "dt_bias"), meta.get("dt_softplus") == "true")
        return {"out": out, "state": state}
    x = np.ascontiguousarray(t["x"], dtype=f64)
    if op == "mamba_block":
        y, conv, ssm_state = ssmkit.MambaBlock(weights(t), dt_name).forward(x, True, layer_device)
        return {"y": y, "conv_state": conv, "ssm_state": ssm_state}
    if op == "bimamba_block":
        blk = ssmkit.BiMambaBlock(weights(t), meta["if_divide_out"] == "true", dt_name)
        return {"y": blk.forward(x, layer_device), "y[unfused]": blk.forward(x, layer_device, fused=False)}
    if op == "ss2d_block":
        blk = ssmkit.SS2DBlock(weights(t), dt_name)
        return {"y": blk.forward(x, layer_device), "y[unfused]": blk.forward(x, layer_device, fused=False)}
    if op == "moe_ffn":
        y, idx = ssmkit.MoEFFN(weights(t), int(meta["top_k"]), meta["activation"], dt_name).forward(x, layer_device)
        return {"y": y, "expert_index": idx}
    if op == "moe_mamba_layer":
        layer = ssmkit.MoEMambaLayer(weights(t), int(meta["top_k"]), meta["activation"], float(meta["norm_eps"]), dt_name)
        y, conv, ssm_state = layer.forward(x, True, layer_device)
        return {"y": y, "conv_state": conv, "ssm_state": ssm_state}
    if op == "bst_layer":
        layer = ssmkit.BSTLayer(weights(t), int(meta["block_size"]), int(meta["context"]), int(meta["n_heads"]),
                                float(meta.get("norm_eps", 1e-5)), dt_name)
        y, c = layer.forward(x, layer_device)
        return {"y": y, "context": c}
    raise AssertionError(f"op {op!r} has no Python path in this test: add one")


def check(path, kind, dtype):
    t, meta = load(path)
    be = Backend(kind, dtype)
    got = run_case(t, meta, be)
    rtol, atol = float(meta["rtol"]), float(meta["atol"])
    expected = {k[len("expected."):]: v for k, v in t.items() if k.startswith("expected.")}
    compared = 0
    for name, value in got.items():
        base = name.split("[")[0]
        assert base in expected, f"{name}: no expected.{base} in the case"
        exp = expected[base]
        g = be.host(value).astype(np.float64)
        assert g.shape == exp.shape, f"{name}: shape {g.shape}, expected {exp.shape}"
        a = float(meta.get(f"atol.{base}", atol))
        if base == "expert_index":
            np.testing.assert_array_equal(g, exp, err_msg=f"{os.path.basename(path)} {name}")
        else:
            diff = np.abs(g - exp)
            bound = a + rtol * np.abs(exp)
            worst = float(np.max(diff - bound)) if diff.size else -1.0
            assert np.all(diff <= bound), f"{os.path.basename(path)} {name}: max excess {worst:.3g} over atol {a} + rtol {rtol} |expected|"
        compared += 1
    assert compared == len(got) and compared > 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("path", CASES, ids=[os.path.basename(c) for c in CASES])
def test_case_numpy_cpu(path, dtype):
    check(path, "numpy", dtype)


GPU_CASES = [c for c in CASES if load(c)[1]["op"] in GPU_TENSOR_OPS | GPU_LAYER_OPS]


@pytest.mark.parametrize("path", GPU_CASES, ids=[os.path.basename(c) for c in GPU_CASES])
def test_case_torch_cuda(path):
    # float32: the precision of the CUDA kernels (fftconv, diag_kernel and the BST layer are float only).
    check(path, "torch-cuda", np.float32)


def test_every_case_was_found():
    assert len(CASES) >= 60, f"only {len(CASES)} cases in {CASES_DIR}"
