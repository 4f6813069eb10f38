"""Notebook 06 (flow matching): the straight path, the flow-matching loss and the Euler sampler — wrong answers with
the hint each check gives, and genuinely different right ones."""
from dlhelpers.tools.catalogues import Catalogue, right_answers, wrong_answers

IMPORTS = "import torch\nimport torch.nn.functional as F\n"

# ------------------------------------------------------------------------------------------- (a) the path
PATH_HEAD = "def my_interpolate(x0, eps, t):\n"
_V = "t = t.view(-1, 1, 1, 1)\n"
PATH_WRONG = {   # name → (body, the phrase the check's message must contain)
    "t reversed": (_V + "return t * x0 + (1 - t) * eps", "runs the wrong way"),
    "DDPM's square roots": (_V + "return (1 - t).sqrt() * x0 + t.sqrt() * eps", "square roots belong to DDPM"),
    "no reshape of t": ("return (1 - t) * x0 + t * eps", "broadcast along the image width"),
    "t shaped (B, 1)": ("t = t[:, None]\nreturn (1 - t) * x0 + t * eps", "broadcast along the image height"),
    "first image's t for all": ("return (1 - t[0]) * x0 + t[0] * eps", "each image's own t"),
    "noise term missing": (_V + "return (1 - t) * x0", "noise term t·ε is missing"),
    "x0 not faded out": (_V + "return x0 + t * eps", "must shrink to 0"),
    "only the distance travelled": (_V + "return t * (eps - x0)", "the path starts at x0"),
    "in place": (_V + "return x0.mul_(1 - t).add_(t * eps)", "in place"),
}
PATH_RIGHT = {
    "x0 plus t times the velocity": _V + "return x0 + t * (eps - x0)",
    "torch.lerp with None-indexing": "return torch.lerp(x0, eps, t[:, None, None, None])",
    "reshape to x0's number of axes": "t = t.reshape(-1, *([1] * (x0.dim() - 1)))\nreturn (1 - t) * x0 + t * eps",
    "loop over the images": """
        return torch.stack([(1 - t[i]) * x0[i] + t[i] * eps[i] for i in range(x0.shape[0])])""",
}

# ------------------------------------------------------------------------------------------- (b) the loss
INTERPOLATE = PATH_HEAD + "    " + _V + "    return (1 - t) * x0 + t * eps\n"
LOSS_SETUP = IMPORTS + INTERPOLATE
LOSS_HEAD = "def my_flow_loss(model, x0, context, generator):\n"
_B = "B = x0.shape[0]\n"
_DRAW_T = "t = torch.rand(B, generator=generator, device=x0.device)\n"
_DRAW_E = "eps = torch.randn(x0.shape, generator=generator, device=x0.device)\n"
_XT = "x_t = my_interpolate(x0, eps, t)\n"
_OK = _B + _DRAW_T + _DRAW_E + _XT


def _ret(pred="model(x_t, t, context)", target="eps - x0"):
    return f"return F.mse_loss({pred}, {target})"


LOSS_WRONG = {
    "target x0 - eps (sign)": (_OK + _ret(target="x0 - eps"), "sign is flipped"),
    "target eps (DDPM habit)": (_OK + _ret(target="eps"), "DDPM's habit"),
    "target x0": (_OK + _ret(target="x0"), "the target is x0"),
    "integer t": (_B + "t = torch.randint(0, 2, (B,), generator=generator).float()\n" + _DRAW_E + _XT + _ret(),
                  "not an integer"),
    "time fed as t * 500": (_OK + _ret(pred="model(x_t, t * 500, context)"), "no T to multiply by"),
    "one t for the whole batch": (_B + "t = torch.rand(1, generator=generator)\n" + _DRAW_E + _XT + _ret(),
                                  "every image its own t"),
    "DDPM's 500 discrete times": (_B + "t = torch.randint(1, 501, (B,), generator=generator) / 500\n" + _DRAW_E + _XT
                                  + _ret(), "only 500 levels"),
    "eps drawn before t": (_B + _DRAW_E + _DRAW_T + _XT + _ret(), "draw t first"),
    "t from the global RNG": (_B + "t = torch.rand(B)\n" + _DRAW_E + _XT + _ret(), "from `generator`"),
    "clean image to the network": (_OK + _ret(pred="model(x0, t, context)"), "clean x0"),
    "two different noises": (_OK + "other = torch.randn(x0.shape, generator=generator)\n" + _ret(target="other - x0"),
                             "another noise"),
    "sum instead of mean": (_OK + "return ((model(x_t, t, context) - (eps - x0)) ** 2).sum()", "sum of the squared"),
    "returns .item()": (_OK + _ret() + ".item()", "not .item()"),
    "context left out": (_OK + _ret(pred="model(x_t, t)"), "no context"),
}
LOSS_RIGHT = {
    "written out, mean of squares": (
        _B + _DRAW_T + _DRAW_E + "tt = t[:, None, None, None]\nx_t = (1 - tt) * x0 + tt * eps\n"
        "return (model(x_t, t, context) - (eps - x0)).pow(2).mean()"),
    "per-image MSE, then the mean": (
        _OK + "per_image = (model(x_t, t, context) - (eps - x0)).pow(2).mean(dim=(1, 2, 3))\nreturn per_image.mean()"),
    "the library's path object": (
        "from dlhelpers.flow import FlowPath\n" + _B + _DRAW_T + _DRAW_E
        + "x_t = FlowPath().add_noise(x0, t, eps)\nreturn F.mse_loss(model(x_t, t, context), eps - x0)"),
}

# ------------------------------------------------------------------------------------------- (c) Euler
EULER_HEAD = "def my_euler_sample(model, x_T, context, steps):\n"


def _euler(times="[i / steps for i in range(steps, -1, -1)]", call_t="t", x_in="x", update="x + (t_prev - t) * u",
           pairs="zip(ts[:-1], ts[1:])"):
    return (f"ts = {times}\n"
            "x = x_T.clone()\n"
            "with torch.no_grad():\n"
            f"    for t, t_prev in {pairs}:\n"
            f"        u = model({x_in}, torch.full((x.shape[0],), float({call_t})), context)\n"
            f"        x = {update}\n"
            "return x")


EULER_WRONG = {
    "wrong sign of the step": (_euler(update="x + (t - t_prev) * u"), "goes the wrong way"),
    "t going 0 → 1": (_euler(times="[i / steps for i in range(steps + 1)]"), "t goes 0 → 1"),
    "steps + 1 calls": (_euler(pairs="zip(ts, ts[1:] + [0.0])"), "one call per step"),
    "reusing the first velocity": (
        "x = x_T.clone()\nu = model(x, torch.ones(x.shape[0]), context)\nfor _ in range(steps):\n"
        "    x = x - u / steps\nreturn x", "called once"),
    "velocity at the end of the step": (_euler(call_t="t_prev"), "at its start t"),
    "the whole u per step": (_euler(update="x - u"), "not by the whole u"),
    "x_T to the network every step": (_euler(x_in="x_T"), "current x"),
    "step index as the time": (_euler(call_t="t * steps"), "not a step index"),
    "returns x_T": (_euler().replace("return x", "return x_T"), "you returned x_T"),
}
EULER_RIGHT = {
    "linspace times": (
        "ts = torch.linspace(1, 0, steps + 1)\nx = x_T.clone()\nwith torch.no_grad():\n"
        "    for i in range(steps):\n"
        "        u = model(x, ts[i].expand(x.shape[0]), context)\n"
        "        x = x + (ts[i + 1] - ts[i]) * u\nreturn x"),
    "a fixed dt, counting t down": (
        "dt, t, x = 1.0 / steps, 1.0, x_T.clone()\nfor _ in range(steps):\n"
        "    with torch.no_grad():\n        u = model(x, torch.full((x.shape[0],), t), context)\n"
        "    x, t = x - dt * u, t - dt\nreturn x"),
    "the library's euler_step and flow_timesteps": (
        "from dlhelpers.flow import euler_step, flow_timesteps\nts = flow_timesteps(steps)\nx = x_T.clone()\n"
        "with torch.no_grad():\n    for t, tp in zip(ts[:-1], ts[1:]):\n"
        "        x = euler_step(x, t, tp, model(x, torch.full((x.shape[0],), t), context))\nreturn x"),
    "through x̂₀ and ε̂, DDIM-style": (
        "x = x_T.clone()\nwith torch.no_grad():\n    for i in range(steps, 0, -1):\n"
        "        t, tp = i / steps, (i - 1) / steps\n"
        "        u = model(x, torch.full((x.shape[0],), t), context)\n"
        "        x0_hat, eps_hat = x - t * u, x + (1 - t) * u\n"
        "        x = (1 - tp) * x0_hat + tp * eps_hat\nreturn x"),
}


CATALOGUES = [
    Catalogue("06", "nb06_interpolate", wrong_answers(PATH_HEAD, PATH_WRONG), right_answers(PATH_HEAD, PATH_RIGHT)),
    Catalogue("06", "nb06_flow_loss", wrong_answers(LOSS_HEAD, LOSS_WRONG), right_answers(LOSS_HEAD, LOSS_RIGHT),
              setup=LOSS_SETUP),
    Catalogue("06", "nb06_euler_sample", wrong_answers(EULER_HEAD, EULER_WRONG),
              right_answers(EULER_HEAD, EULER_RIGHT)),
]
