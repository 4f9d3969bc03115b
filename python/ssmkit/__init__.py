"""ssmkit: continuous-time state space models (HiPPO/S4, S4D, Mamba and family) on NumPy arrays
and PyTorch / CuPy tensors, CPU and CUDA, with no copies of contiguous inputs.

Ops take and return arrays of the caller's framework (NumPy in, NumPy out; torch in, torch out,
on the tensor's device and, for CUDA, on the framework's current stream). Every formula and shape
is in the docstrings (and in the .pyi stubs); docs/python.md is the guide. Inference only: there
is no autograd, so call ops on tensors that do not require grad (or under torch.no_grad()).

    import numpy as np, ssmkit
    out, last = ssmkit.selective_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus=True,
                                      return_last_state=True)
    model = ssmkit.load_model("model.safetensors")
    y = model.forward(x)                     # (batch, length, d_input) -> (batch, length, d_output)
    s = model.stream(sample_rate=48000, max_block=256)
    y_block = s.process(x_block)             # (n, d_input) -> (n, d_output), real-time path

ssmkit.ray (pip install .[ray]) runs a model over files on a Ray cluster.
"""
import os as _os

from ._ssmkit import (  # noqa: F401
    BiMambaBlock,
    BSTLayer,
    MambaBlock,
    Model,
    MoEFFN,
    MoEMambaLayer,
    SS2DBlock,
    Streamer,
    bidirectional_selective_scan,
    cross_selective_scan,
    cuda_available,
    cuda_compiled,
    diag_kernel,
    diag_scan,
    discretize,
    fftconv,
    hippo,
    hippo_kernel,
    lti_filter,
    model_archs,
    selective_scan,
    selective_state_update,
)

__version__ = "0.1.0"


def load_model(path, dtype="float32"):
    """Opens a model file of any registered family (ssm::load_model: the file's ssmkit.arch picks
    the family), or a Hugging Face checkpoint directory (config.json + model.safetensors of a
    MambaForCausalLM / MambaModel: token ids in, logits / last hidden states out), as a Model
    with forward(x) and stream(). dtype: 'float32' or 'float64', the compute precision. Raises FileNotFoundError for a missing path, ValueError for a file that
    does not load (the message names the file and what is wrong)."""
    path = _os.fspath(path)
    if not _os.path.exists(path):
        raise FileNotFoundError(f"load_model: argument 'path': no such file or directory: '{path}'")
    return _ssmkit_load(path, dtype)


from ._ssmkit import _load_model as _ssmkit_load  # noqa: E402
