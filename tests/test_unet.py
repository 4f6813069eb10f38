import pytest
import torch

from dlhelpers.unet import ContextUnet


def test_output_shape_equals_input_shape(tiny_model):
    x = torch.randn(5, 3, 16, 16)
    assert tiny_model(x, torch.rand(5)).shape == x.shape


def test_course_size_model_and_other_heights():
    m = ContextUnet(3, 64, 5, 16).eval()
    assert m(torch.randn(2, 3, 16, 16), torch.rand(2), torch.eye(5)[:2]).shape == (2, 3, 16, 16)
    m28 = ContextUnet(1, 16, 10, 28).eval()
    assert m28(torch.randn(2, 1, 28, 28), torch.rand(2)).shape == (2, 1, 28, 28)


def test_eval_mode_is_deterministic(tiny_model):
    x, t, c = torch.randn(3, 3, 16, 16), torch.rand(3), torch.eye(5)[:3]
    torch.testing.assert_close(tiny_model(x, t, c), tiny_model(x, t, c), rtol=0, atol=0)


def test_no_layer_is_created_in_forward(tiny_model):
    before = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    n_modules = len(list(tiny_model.modules()))
    tiny_model(torch.randn(2, 3, 16, 16), torch.rand(2))
    assert len(list(tiny_model.modules())) == n_modules
    assert tiny_model.state_dict().keys() == before.keys()
    # the 3 → F shortcut of the first residual block is a real, saved layer
    assert "init_conv.shortcut.weight" in before


def test_state_dict_round_trip_gives_identical_outputs(tiny_model):
    x, t = torch.randn(3, 3, 16, 16), torch.rand(3)
    other = ContextUnet(3, 16, 5, 16).eval()
    other.load_state_dict(tiny_model.state_dict())
    torch.testing.assert_close(other(x, t), tiny_model(x, t), rtol=0, atol=0)


def test_context_changes_the_output(tiny_model):
    # train mode: batch statistics keep activations O(1); an untrained model's eval-mode BatchNorm shrinks them
    tiny_model.train()
    x, t = torch.randn(4, 3, 16, 16), torch.rand(4)
    a = tiny_model(x, t, torch.eye(5)[[0, 0, 0, 0]])
    b = tiny_model(x, t, torch.eye(5)[[3, 3, 3, 3]])
    null = tiny_model(x, t, None)
    assert (a - b).abs().max() > 1e-2 and (a - null).abs().max() > 1e-2
    torch.testing.assert_close(null, tiny_model(x, t, torch.zeros(4, 5)))


def test_time_changes_the_output(tiny_model):
    tiny_model.train()
    x = torch.randn(4, 3, 16, 16)
    assert (tiny_model(x, torch.zeros(4)) - tiny_model(x, torch.ones(4))).abs().max() > 1e-2


@pytest.mark.parametrize("shape", [(4,), (4, 1), (4, 1, 1, 1)])
def test_t_in_all_accepted_shapes(tiny_model, shape):
    x, t = torch.randn(4, 3, 16, 16), torch.linspace(0, 1, 4)
    torch.testing.assert_close(tiny_model(x, t.reshape(shape)), tiny_model(x, t))


def test_time_added_and_context_multiplied(tiny_model):
    """forward() injects h ← cemb ⊙ h + temb at both decoder levels: recomputed by hand from the layers, the
    result equals the model's output (adding the context, or multiplying the time, would not)."""
    m = tiny_model
    x, t, c = torch.randn(2, 3, 16, 16), torch.rand(2), torch.eye(5)[:2]
    cemb1, temb1, cemb2, temb2 = m.embed(t.reshape(2, 1), c)
    assert cemb1.shape == temb1.shape == (2, 32, 1, 1) and cemb2.shape == temb2.shape == (2, 16, 1, 1)
    up0 = m.up0(m.to_vec(m.down2(m.down1(m.init_conv(x)))))
    # the documented injection, recomputed by hand, equals what forward() does
    h = m.init_conv(x)
    d1 = m.down1(h)
    d2 = m.down2(d1)
    u2 = m.up1(cemb1 * up0 + temb1, d2)
    u3 = m.up2(cemb2 * u2 + temb2, d1)
    torch.testing.assert_close(m.out(torch.cat((u3, h), 1)), m(x, t, c))
