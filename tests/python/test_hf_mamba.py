"""Hugging Face Mamba checkpoints load directly (ssm::load_model(dir)): a small random
MambaForCausalLM / MambaModel from transformers (pinned in requirements.txt; its slow path,
which needs neither mamba_ssm nor causal_conv1d), saved with save_pretrained as config.json +
model.safetensors, run by ssmkit_check_export in every mode (scan, stream, streamed in blocks)
against transformers' own forward of the model converted to float64, on the same token ids.
transformers' slow path rounds A = -exp(A_log.float()), B and the scan input to float32 even
in a float64 model, so the comparison is at float32 rounding (rtol 1e-5); a wrong norm eps
(1e-3 against 1e-5) or activation is off by 1e-4 and more."""
import os

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from safetensors.torch import save_file  # noqa: E402


def _config(**kw):
    args = dict(vocab_size=37, hidden_size=16, state_size=4, num_hidden_layers=2, expand=2, conv_kernel=4,
                use_bias=False, use_conv_bias=True, layer_norm_epsilon=1e-5)
    args.update(kw)
    return transformers.MambaConfig(**args)


def _save(tmp_path, name, model, ids, out):
    """Saves `model` as transformers does, then the float64 reference of the saved weights."""
    d = tmp_path / name
    model.save_pretrained(d, safe_serialization=True)
    assert (d / "config.json").exists() and (d / "model.safetensors").exists()
    with torch.no_grad():
        y = getattr(model.double()(ids, use_cache=False), out)
    u = ids.to(torch.float64).unsqueeze(-1)  # token ids as values: (batch, length, 1)
    check = tmp_path / (name + ".check.safetensors")
    save_file({"u": u.contiguous(), "y": y.to(torch.float64).contiguous()}, str(check),
              metadata={"model": name, "arch": "mamba", "rtol": "1e-5"})
    return check


@pytest.mark.parametrize("kw", [{}, {"use_bias": True, "time_step_rank": 3, "layer_norm_epsilon": 1e-3},
                                {"tie_word_embeddings": False}])
def test_causal_lm_logits_match_transformers(tmp_path, check_export, kw):
    model = transformers.MambaForCausalLM(_config(**kw)).eval()
    ids = torch.randint(0, 37, (2, 23))
    lines = check_export(_save(tmp_path, "lm", model, ids, "logits"), block=5)
    assert len(lines) == 3 and all(line.startswith("ok") for line in lines), lines  # scan, stream, blocks


def test_backbone_hidden_states_match_transformers(tmp_path, check_export):
    model = transformers.MambaModel(_config()).eval()
    ids = torch.randint(0, 37, (3, 17))
    lines = check_export(_save(tmp_path, "base", model, ids, "last_hidden_state"))
    assert len(lines) == 3 and all(line.startswith("ok") for line in lines), lines


def test_unsupported_activation_is_refused_by_name(tmp_path, check_export, capfd):
    model = transformers.MambaForCausalLM(_config(hidden_act="gelu")).eval()
    ids = torch.randint(0, 37, (1, 5))
    check_export(_save(tmp_path, "gelu", model, ids, "logits"), expect=2)
    out = capfd.readouterr().out  # the fixture prints the checker's stdout and stderr
    assert "hidden_act" in out and "gelu" in out, out


@pytest.mark.parametrize("cls,out,kw", [("MambaForCausalLM", "logits", {}),
                                        ("MambaForCausalLM", "logits", {"tie_word_embeddings": False}),
                                        ("MambaModel", "last_hidden_state", {})])
def test_the_ssmkit_program_runs_the_directory(tmp_path, ssmkit, cls, out, kw):
    """`ssmkit info DIR` / `ssmkit run --model DIR ids.npy` on a save_pretrained directory: token
    ids as np.save writes input_ids (int64, (batch, length)) in, transformers' logits / last
    hidden states (float32 forward) out, in scan and stream mode."""
    import numpy as np

    model = getattr(transformers, cls)(_config(**kw)).eval()
    d = tmp_path / "ckpt"
    model.save_pretrained(d, safe_serialization=True)
    ids = torch.randint(0, 37, (2, 13))
    np.save(tmp_path / "ids.npy", ids.numpy())
    with torch.no_grad():
        want = getattr(model(ids, use_cache=False), out).numpy()

    info = ssmkit("info", d).stdout
    lm = cls == "MambaForCausalLM"
    for line in ("Hugging Face checkpoint directory", f"architectures {cls}", "d_model     : 16",
                 "n_layer     : 2", "vocab       : 37",
                 "lm head     : " + ("no" if not lm else "yes, untied" if kw else "yes, tied")):
        assert line in info, info
    for extra in ([], ["--mode", "stream", "--block", "4"]):
        ssmkit("run", "--model", d, tmp_path / "ids.npy", "-o", tmp_path / "y.npy", *extra)
        y = np.load(tmp_path / "y.npy")
        assert y.shape == want.shape == (2, 13, 37 if lm else 16)
        np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-5 * np.abs(want).max(), err_msg=" ".join(extra))
