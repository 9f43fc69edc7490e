"""Contract tests over the whole model registry, plus the science properties of cells and controls."""

import pytest
import torch

from brainfit.models import (ConvRNN, ExternalModel, count_params, create_model, deeper_control, list_models,
                             unrolled_control, wider_control)
from brainfit.models.cells import CELLS, make_cell

ALL = list_models()


def _x(b=2, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 3, size, size, generator=g)


def _kw(model, n=6):
    return {"n_steps": n, "on_steps": n} if model.time_varying else {}


@pytest.mark.parametrize("name", ALL)
def test_contract(name):
    torch.manual_seed(0)
    model = create_model(name).eval()
    x = _x()
    logits, layers = model(x, return_layers=True, **_kw(model))
    T = 6 if model.time_varying else 1
    assert logits.shape == (2, T, model.n_classes) and logits.dtype == torch.float32
    assert list(layers) == list(model.layers)
    for lname, block in model.layers.items():
        assert layers[lname].shape[:2] == (2, T)
        assert hasattr(block, "output") or isinstance(model, ExternalModel)
        assert 0 <= model.arrival_step(lname) < max(T, 1)
        assert torch.all(layers[lname][:, :model.arrival_step(lname)] == 0)
    assert set(model.regions) <= set(model.layers)
    assert isinstance(model.is_recurrent, bool) and (model.is_recurrent <= model.time_varying)


@pytest.mark.parametrize("name", ALL)
def test_hook_called_once_per_existing_step(name):
    model = create_model(name).eval()
    calls = {n: 0 for n in model.layers}
    handles = [getattr(b, "output", b).register_forward_hook(lambda *a, n=n: calls.__setitem__(n, calls[n] + 1))
               for n, b in model.layers.items()]
    with torch.no_grad():
        model(_x(1), **_kw(model, 7))
    for h in handles:
        h.remove()
    T = 7 if model.time_varying else 1
    assert calls == {n: T - model.arrival_step(n) for n in model.layers}


@pytest.mark.parametrize("name", ALL)
def test_gradients_flow_through_time_to_the_first_layer(name):
    torch.manual_seed(0)
    model = create_model(name).train()
    logits = model(_x(), **_kw(model))
    logits[:, -1].sum().backward()
    first = next(p for p in model.parameters() if p.dim() == 4)
    assert first.grad is not None and first.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ALL)
def test_deterministic_under_a_seed(name):
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        model = create_model(name).eval()
        with torch.no_grad():
            outs.append(model(_x(), **_kw(model)))
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0)


def _randomise_recurrence(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if ".cell." in n or n.startswith("fb."):
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_bypass_first_wave_equals_feedforward_base(cell):
    torch.manual_seed(0)
    rnn = ConvRNN(cell=cell, feedback=(("conv5", "conv3"),))
    _randomise_recurrence(rnn)  # so that recurrence and feedback really act from the second step on
    ff = create_model("ff_small")
    result = ff.load_state_dict(rnn.state_dict(), strict=False)
    assert not result.missing_keys  # the base is exactly the ConvRNN's feedforward part
    rnn.eval(), ff.eval()
    x = _x(3)
    with torch.no_grad():
        lr, Lr = rnn(x, n_steps=8, on_steps=8, return_layers=True)
        lf, Lf = ff(x, return_layers=True)
    for k, name in enumerate(Lr):
        torch.testing.assert_close(Lr[name][:, k], Lf[name][:, 0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(lr[:, rnn.readout_step()], lf[:, 0], rtol=1e-5, atol=1e-5)
    # and the cells do act later: conv5's second step differs from its first
    assert (Lr["conv5"][:, 5] - Lr["conv5"][:, 4]).abs().max() > 1e-3


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_cell_zero_state_is_relu(cell):
    torch.manual_seed(0)
    c = make_cell(cell, 6)
    for p in c.parameters():
        torch.nn.init.normal_(p, std=0.3)
    x = torch.randn(2, 6, 5, 5)
    out, state = c(x, c.init_state(x))
    torch.testing.assert_close(out, torch.relu(x))
    out2, _ = c(x, state)
    assert not torch.allclose(out2, out)


def test_feedback_changes_later_steps_but_not_the_first_wave():
    torch.manual_seed(0)
    fb = create_model("convrnn_small_rgc_feedback").eval()
    _randomise_recurrence(fb)
    no_fb = create_model("convrnn_small_rgc").eval()
    no_fb.load_state_dict(fb.state_dict(), strict=False)
    x = _x()
    with torch.no_grad():
        _, a = fb(x, n_steps=9, on_steps=9, return_layers=True)
        _, b = no_fb(x, n_steps=9, on_steps=9, return_layers=True)
    for k, name in enumerate(a):
        torch.testing.assert_close(a[name][:, k], b[name][:, k])  # first wave identical
    assert (a["conv3"][:, 6:] - b["conv3"][:, 6:]).abs().max() > 1e-3  # feedback from conv5 arrives later


def test_recurrent_steps_differ_and_gray_after_offset():
    model = create_model("convrnn_small_rgc").eval()
    _randomise_recurrence(model)
    with torch.no_grad():
        _, L = model(_x(), n_steps=14, on_steps=5, return_layers=True)
    assert not torch.allclose(L["conv5"][:, 5], L["conv5"][:, 6])
    # conv1 has no cell: constant while the image is on, then the response to gray
    torch.testing.assert_close(L["conv1"][:, 1], L["conv1"][:, 4])
    assert not torch.allclose(L["conv1"][:, 4], L["conv1"][:, 5])


@pytest.mark.parametrize("cell", ["rgc", "lstm", "gru", "vanilla"])
def test_controls_match_parameter_counts(cell):
    rnn = create_model(f"convrnn_small_{cell}")
    target = count_params(rnn)
    for kind in ("wider", "deeper"):
        ctrl = create_model(f"ff_small_{kind}_{cell}")
        n = count_params(ctrl)
        assert abs(n - target) <= 0.05 * target, (kind, n, target)
        assert not ctrl.is_recurrent and not ctrl.time_varying
    assert count_params(create_model("ff_small")) < 0.95 * target
    assert count_params(wider_control(rnn)) == count_params(create_model(f"ff_small_wider_{cell}"))
    assert count_params(deeper_control(rnn)) == count_params(create_model(f"ff_small_deeper_{cell}"))


def test_rgc_control_counts():
    """The numbers quoted in the notes."""
    assert count_params(create_model("convrnn_small_rgc")) == 410154
    assert count_params(create_model("ff_small_wider_rgc")) == 409146
    assert count_params(create_model("ff_small_deeper_rgc")) == 409814


def test_unrolled_control_shares_weights_and_has_no_memory():
    torch.manual_seed(0)
    rnn = create_model("convrnn_small_rgc_feedback").eval()
    _randomise_recurrence(rnn)
    un = unrolled_control(rnn).eval()
    for (k, a), (_, b) in zip(rnn.state_dict().items(), un.state_dict().items()):
        torch.testing.assert_close(a, b, msg=k)
    assert un.time_varying and not un.is_recurrent
    ff = create_model("ff_small").eval()
    ff.load_state_dict(rnn.state_dict(), strict=False)
    x = _x()
    with torch.no_grad():
        _, L = un(x, n_steps=12, on_steps=12, return_layers=True)
        _, F = ff(x, return_layers=True)
    for k, name in enumerate(L):  # every step after arrival equals the feedforward response
        for t in range(k, 12):
            torch.testing.assert_close(L[name][:, t], F[name][:, 0], rtol=1e-5, atol=1e-5)


def test_control_factories_forward_convrnn_kwargs():
    # the unrolled control takes its ConvRNN's schedule (it used to accept only n_classes)
    un = create_model("convrnn_small_rgc_unrolled", n_steps=8, on_steps=3)
    assert (un.n_steps, un.on_steps) == (8, 3) and un.time_varying and not un.is_recurrent
    with torch.no_grad():
        assert un.eval()(_x(1)).shape == (1, 8, 10)
    # wider/deeper controls match the ConvRNN built with those arguments, and stay feedforward
    big = count_params(create_model("convrnn_small_vanilla", cell_kw={"kernel_size": 5}))
    for kind in ("wider", "deeper"):
        ctrl = create_model(f"ff_small_{kind}_vanilla", n_steps=8, on_steps=3, cell_kw={"kernel_size": 5})
        assert not ctrl.is_recurrent and not ctrl.time_varying and ctrl.n_steps == 1
        assert abs(count_params(ctrl) - big) <= 0.05 * big
        assert count_params(ctrl) > 1.5 * count_params(create_model(f"ff_small_{kind}_vanilla"))
    with pytest.raises(ValueError, match="unexpected keyword argument .bogus."):
        create_model("convrnn_small_gru_unrolled", bogus=1)


def test_unknown_name_lists_close_matches():
    with pytest.raises(KeyError, match=r"did you mean \['convrnn_small_rgc'"):
        create_model("convrnn_smal_rgc")


def test_bad_feedback_edges():
    with pytest.raises(ValueError, match="must go from a higher block to a lower one"):
        ConvRNN(cell="rgc", feedback=(("conv2", "conv4"),))
    with pytest.raises(ValueError, match="unknown block 'conv9'"):
        ConvRNN(cell="rgc", feedback=(("conv9", "conv4"),))


def test_external_model_wraps_any_module():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.LazyLinear(5))
    net(_x(1, 8))
    m = ExternalModel(net, ["0", "1"], regions={"1": "IT"})
    logits, layers = m(_x(2, 8), return_layers=True)
    assert logits.shape == (2, 1, 5) and layers["1"].shape == (2, 1, 4, 6, 6)
    assert not m.is_recurrent and not m.time_varying
    torch.testing.assert_close(layers["1"][:, 0], net[1](net[0](_x(2, 8))))
    assert all(not mod._forward_hooks for mod in net.modules())  # the capture removed its hooks
    with pytest.raises(ValueError, match=r"unknown submodule name\(s\) \['9'\]"):
        ExternalModel(net, ["9"])


@pytest.mark.shared_data
def test_resnet20_loads_shared_weights():
    from brainfit.data import data_root

    root = data_root()
    if root is None or not (root / "pretrained_cifar_resnets").exists():
        pytest.skip("shared data root with pretrained_cifar_resnets not found (set BRAINFIT_DATA)")
    m = create_model("resnet20_cifar", pretrained=True)
    assert count_params(m) == 269722
    with torch.no_grad():
        assert torch.isfinite(m(_x())).all()


@pytest.mark.slow
@pytest.mark.shared_data
def test_resnet20_accuracy_on_cifar10_jpeg_test():
    from brainfit.data import data_root
    from brainfit.training import evaluate, load_image_zip

    root = data_root()
    zpath = None if root is None else root / "cifar10_jpeg" / "cifar10_jpeg.zip"
    if zpath is None or not zpath.exists() or not (root / "pretrained_cifar_resnets").exists():
        pytest.skip("shared CIFAR-10 JPEG zip or ResNet weights not found (set BRAINFIT_DATA)")
    m = create_model("resnet20_cifar", pretrained=True)
    test = load_image_zip(zpath, split="test", progress=False)
    _, acc = evaluate(m, test, mean=m.norm_mean, std=m.norm_std)
    assert acc >= 0.78, acc


def test_capture_outputs_is_one_call_per_step_and_cleans_up():
    from brainfit.models import ModelView, capture_outputs

    model = create_model("convrnn_small_rgc", n_steps=7, on_steps=3).eval()
    view = ModelView(model, ["conv2", "conv5"])
    got = {n: [] for n in view.names}
    with torch.no_grad(), view.capture(lambda name, out: got[name].append(out.clone())):
        _, layers = model(_x(2), return_layers=True)
    for name in view.names:  # one output per step from the arrival step on, equal to the model's own record
        assert len(got[name]) == 7 - view.arrival[name]
        torch.testing.assert_close(torch.stack(got[name], 1), layers[name][:, view.arrival[name]:])
    assert all(not m._forward_hooks for m in model.modules())

    class Boom(Exception):
        pass

    with pytest.raises(Boom), capture_outputs(view.hooks, lambda n, o: None):
        raise Boom
    assert all(not m._forward_hooks for m in model.modules())
