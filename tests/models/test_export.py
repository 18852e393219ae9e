"""Every distinct Vim and VMamba architecture exported (torch.export -> core ATen -> .pt2 and ONNX) runs outside
vimvision and matches the eager model at other batch sizes than the one it was traced with."""
from __future__ import annotations

import pytest
import torch

from tests.models.test_contract import MODELS, create, input_for
from vimvision.export import ONNX_OPSET, export_program, onnx_session, save_onnx

pytest.importorskip("onnxruntime", reason="ONNX Runtime is in the [export] extra (and in [dev])")
import onnx  # noqa: E402  (after the skip: both come with the extra)


def _distinct_architectures() -> list[str]:
    """One name per distinct reduced architecture: aliases and width-only variants export the same graph."""
    first = {}
    for name in MODELS:
        first.setdefault(repr(create(name)), name)
    return sorted(first.values())


ARCHITECTURES = _distinct_architectures()
REL_TOL = 1e-4  # |exported - eager| / |eager|, fp32 (measured 2e-7 to 3e-6)


def _relative(got: torch.Tensor, want: torch.Tensor) -> float:
    return float((got - want).abs().max() / want.abs().max())


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_exported_model_runs_in_onnx_runtime_and_as_pt2_at_any_batch(name, tmp_path):
    model = create(name).eval()
    x = input_for(model)  # batch 2: the traced size; 1 and 3 are what the symbolic batch must cover
    program = export_program(model, tuple(x.shape[-2:]))
    leftover = {str(n.target) for n in program.graph.nodes if n.op == "call_function" and "vimvision" in str(n.target)}
    assert not leftover, f"ops left undecomposed: {leftover}"

    onnx_path = save_onnx(program, tmp_path / f"{name}.onnx")
    graph = onnx.load(str(onnx_path))
    assert [(o.domain, o.version) for o in graph.opset_import if o.domain == ""] == [("", ONNX_OPSET)]
    assert graph.graph.input[0].type.tensor_type.shape.dim[0].dim_param, "the batch dimension is not symbolic"
    session = onnx_session(onnx_path)
    pt2_path = tmp_path / f"{name}.pt2"
    torch.export.save(program, str(pt2_path))
    loaded = torch.export.load(str(pt2_path)).module()
    for batch in (1, 3):
        xb = torch.cat([x, x.flip(0)])[:batch] + 0.1 * batch
        with torch.no_grad():
            want = model(xb)
            from_pt2 = loaded(xb)
        from_onnx = torch.from_numpy(session.run(None, {"image": xb.numpy()})[0])
        assert from_onnx.shape == want.shape and from_pt2.shape == want.shape
        assert _relative(from_onnx, want) < REL_TOL, f"ONNX batch {batch}: {_relative(from_onnx, want):.2e}"
        assert _relative(from_pt2, want) < REL_TOL, f"pt2 batch {batch}: {_relative(from_pt2, want):.2e}"


def test_fixed_batch_export_keeps_the_traced_batch(tmp_path):
    model = create("vmamba_tiny").eval()
    x = input_for(model)
    path = save_onnx(export_program(model, tuple(x.shape[-2:]), dynamic_batch=False), tmp_path / "fixed.onnx")
    assert onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim[0].dim_value == x.shape[0]
    session = onnx_session(path)
    with pytest.raises(Exception, match="(?i)dimension|shape"):
        session.run(None, {"image": x[:1].numpy()})


def test_features_model_exports_its_pooled_features(tmp_path):
    model = create("vim_tiny", num_classes=0).eval()
    x = input_for(model)
    path = save_onnx(export_program(model, tuple(x.shape[-2:])), tmp_path / "features.onnx", output_name="features")
    session = onnx_session(path)
    assert [o.name for o in session.get_outputs()] == ["features"]
    with torch.no_grad():
        want = model(x)
    assert _relative(torch.from_numpy(session.run(None, {"image": x.numpy()})[0]), want) < REL_TOL


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vim_tiny", "vmamba_tiny"])
def test_aot_inductor_package_of_the_decomposed_program_runs_and_matches(name, tmp_path):
    """AOTInductor compiles the core-ATen program to C++ for this CPU (about a minute per reduced model)."""
    model = create(name).eval()
    x = input_for(model)
    path = torch._inductor.aoti_compile_and_package(export_program(model, tuple(x.shape[-2:])),
                                                    package_path=str(tmp_path / f"{name}.aoti.pt2"))
    runner = torch._inductor.aoti_load_package(path)
    for batch in (1, 3):
        xb = torch.cat([x, x])[:batch]
        with torch.no_grad():
            want = model(xb)
        assert _relative(runner(xb), want) < REL_TOL
