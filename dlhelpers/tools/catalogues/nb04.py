"""Notebook 04 (context control): mixing contexts, the guided ε̃ and the guided DDIM loop — wrong answers with the
hint each one gets, and genuinely different right ones."""
from dlhelpers.tools.catalogues import Catalogue, right_answers, wrong_answers

# ------------------------------------------------------------------------------------------- (a) mix contexts
MIX_HEAD = "def my_mix_contexts(weights):\n"
MIX_WRONG = {
    "not normalised": ("return torch.tensor([weights], dtype=torch.float32)", "normalise the weights"),
    "no guard against 0 / 0": ("""
        w = torch.tensor([weights], dtype=torch.float32)
        return w / w.sum()""", "avoid dividing by 0"),
    "shape (5,) instead of (1, 5)": ("""
        w = torch.tensor(weights, dtype=torch.float32)
        return w / w.sum() if w.sum() > 0 else w""", "one row of shape (1, 5)"),
    "divides by the largest weight": ("""
        w = torch.tensor([weights], dtype=torch.float32)
        return w / w.max() if w.max() > 0 else w""", "not by the largest one"),
    "divides by the norm": ("""
        w = torch.tensor([weights], dtype=torch.float32)
        return w / w.norm() if w.norm() > 0 else w""", "not have length 1"),
    "softmax": ("return torch.tensor([weights], dtype=torch.float32).softmax(dim=1)", "a softmax changes the ratios"),
    "None for the null context": ("""
        w = torch.tensor([weights], dtype=torch.float32)
        return w / w.sum() if w.sum() > 0 else None""", "not None"),
    "divides by the count": ("return torch.tensor([weights], dtype=torch.float32) / len(weights)",
                             "not by their count"),
    "sum clamped at 1": ("""
        w = torch.tensor([weights], dtype=torch.float32)
        return w / w.sum().clamp(min=1)""", "even when it is below 1"),
    "a nested list, not a tensor": ("""
        total = sum(weights)
        return [[v / total if total else 0.0 for v in weights]]""", "expected a torch.Tensor"),
}
MIX_RIGHT = {
    "pure Python, then a tensor": """
        total = sum(weights)
        return torch.tensor([[v / total if total else 0.0 for v in weights]])""",
    "L1 normalize": """
        w = torch.tensor([weights], dtype=torch.float32)
        return torch.nn.functional.normalize(w, p=1, dim=1)""",
    "float64 and nan_to_num": """
        w = torch.tensor(weights, dtype=torch.float64)[None]
        return (w / w.sum()).nan_to_num(0.0)""",
}

# ---------------------------------------------------------------------------------------------- (b) guided ε̃
GUIDE_HEAD = "def my_guided_eps(eps_cond, eps_uncond, w):\n"
GUIDE_WRONG = {
    "starts from eps_cond": ("return eps_cond + w * (eps_cond - eps_uncond)", "start from the unconditional ε"),
    "difference reversed": ("return eps_uncond + w * (eps_uncond - eps_cond)", "the difference is reversed"),
    "the paper's w (ours minus 1)": ("return (1 + w) * eps_cond - w * eps_uncond", "whose w is our w − 1"),
    "forgets eps_uncond": ("return w * (eps_cond - eps_uncond)", "you left out the first term"),
    "weights swapped": ("return (1 - w) * eps_cond + w * eps_uncond", "the weights are swapped"),
    "no subtraction": ("return eps_uncond + w * eps_cond", "subtract ε_uncond inside the bracket"),
    "changes eps_cond in place": ("""
        eps_cond -= eps_uncond
        return eps_uncond + w * eps_cond""", "changed eps_cond or eps_uncond in place"),
    "ignores w": ("return eps_cond", "at w = 3"),
}
GUIDE_RIGHT = {
    "lerp": "return torch.lerp(eps_uncond, eps_cond, w)",
    "convex-combination form": "return (1 - w) * eps_uncond + w * eps_cond",
    "the paper's form with w' = w - 1": "return w * eps_cond - (w - 1) * eps_uncond",
}

# ------------------------------------------------------------------------------------- (c) the guided DDIM loop
LOOP_HEAD = "def my_guided_sample(model, x_T, context, w, schedule, timesteps, guide, eta=0.0, generator=None):\n"


def _loop(pairs="zip(timesteps[:-1], timesteps[1:])", tnorm="torch.full((x.shape[0],), t / T, device=x.device)",
          uncond="model(x, t_norm, null)", eps="guide(eps_cond, eps_uncond, w)", ctx="torch.no_grad()",
          step="x = ddim_step(x, t, t_prev, {eps}, schedule, eta=eta, generator=generator)", ret="x",
          x_in="x"):
    return f"""
    T, x = schedule.timesteps, x_T
    null = torch.zeros_like(context)
    with {ctx}:
        for t, t_prev in {pairs}:
            t_norm = {tnorm}
            eps_cond = model({x_in}, t_norm, context)
            eps_uncond = {uncond}
            {step.format(eps=eps)}
    return {ret}"""


LOOP_WRONG = {
    "timesteps walked upwards": (_loop(pairs="zip(timesteps[::-1][:-1], timesteps[::-1][1:])"), "wrong order"),
    "also a step at t = 0": (_loop(pairs="zip(timesteps, timesteps[1:] + [0])"), "also called at t = 0"),
    "its own timesteps": (_loop(pairs="zip(ddim_timesteps(T, 5)[:-1], ddim_timesteps(T, 5)[1:])"),
                          "not the timesteps you were given"),
    "integer t to the model": (_loop(tnorm="torch.full((x.shape[0],), t, device=x.device)"), "integer t"),
    "no null-context call": (_loop(uncond="model(x, t_norm, context)"), "null context"),
    "guidance never applied": (_loop(eps="eps_cond"), "guidance was not applied"),
    "guide's arguments swapped": (_loop(eps="guide(eps_uncond, eps_cond, w)"), "swapped"),
    "the paper's w": (_loop(eps="guide(eps_cond, eps_uncond, w + 1)"), "guidance scale misapplied"),
    "eta not passed on": (_loop(step="x = ddim_step(x, t, t_prev, {eps}, schedule, generator=generator)"),
                          "eta was not passed on"),
    "generator ignored": (_loop(step="x = ddim_step(x, t, t_prev, {eps}, schedule, eta=eta)"),
                          "generator was ignored"),
    "own noise, wrong size": (_loop(step="x = ddim_step(x, t, t_prev, {eps}, schedule) + eta * 0.1 * "
                                         "torch.randn(x.shape, generator=generator)"), "σ_t·z"),
    "one step to t - 1": (_loop(step="x = ddim_step(x, t, t - 1, {eps}, schedule, eta=eta, generator=generator)"),
                          "jump to t_prev"),
    "no torch.no_grad": (_loop(ctx="torch.enable_grad()"), "no_grad"),
    "model always sees x_T": (_loop(x_in="x_T"), "stale x"),
    "returns x_T": (_loop(ret="x_T"), "returned x_T"),
}
LOOP_RIGHT = {
    "one batched call, formula inline, z drawn by hand": """
    T, B, x = schedule.timesteps, x_T.shape[0], x_T.clone()
    both = torch.cat([context, torch.zeros_like(context)])              # (2B, 5)
    with torch.inference_mode():
        for i in range(len(timesteps) - 1):
            t, t_prev = timesteps[i], timesteps[i + 1]
            eps = model(torch.cat([x, x]), torch.full((2 * B,), t / T), both)
            eps_c, eps_u = eps[:B], eps[B:]
            z = torch.randn(x.shape, generator=generator, device=x.device)
            x = ddim_step(x, t, t_prev, eps_u + w * (eps_c - eps_u), schedule, eta=eta, z=z)
    return x""",
    "None as the null context, float t/T, while loop": """
    T, x, i = schedule.timesteps, x_T, 0
    with torch.no_grad():
        while i + 1 < len(timesteps):
            t, t_prev = timesteps[i], timesteps[i + 1]
            eps_uncond = model(x, t / T, None)
            eps_cond = model(x, t / T, context)
            x = ddim_step(x, t, t_prev, guide(eps_cond, eps_uncond, w), schedule, eta=eta, generator=generator)
            i += 1
    return x""",
}


LOOP_SETUP = ("import torch\nfrom dlhelpers.ddim import ddim_step, ddim_timesteps\n"
              "from dlhelpers.notebook.checks.context import guided_eps\n")

CATALOGUES = [
    Catalogue("04", "nb04_mix_contexts", wrong_answers(MIX_HEAD, MIX_WRONG), right_answers(MIX_HEAD, MIX_RIGHT)),
    Catalogue("04", "nb04_guided_eps", wrong_answers(GUIDE_HEAD, GUIDE_WRONG), right_answers(GUIDE_HEAD, GUIDE_RIGHT)),
    Catalogue("04", "nb04_guided_sample", wrong_answers(LOOP_HEAD, LOOP_WRONG), right_answers(LOOP_HEAD, LOOP_RIGHT),
              setup=LOOP_SETUP),
]
