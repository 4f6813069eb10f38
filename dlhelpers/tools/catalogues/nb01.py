"""Notebook 01 (sampling): the DDPM step, x̂₀ and the reverse loop — wrong answers with their hints, and right ones."""
from dlhelpers.tools.catalogues import Catalogue, right_answers, wrong_answers

STEP_HEAD = "def my_ddpm_step(x_t, t, eps, schedule, z):\n"
STEP_WRONG = {
    "noise on the last step": """
        a, ab, b = schedule.alpha[t], schedule.alpha_bar[t], schedule.beta[t]
        return (x_t - (1 - a) / (1 - ab).sqrt() * eps) / a.sqrt() + b.sqrt() * z""",
    "never any noise": """
        a, ab = schedule.alpha[t], schedule.alpha_bar[t]
        return (x_t - (1 - a) / (1 - ab).sqrt() * eps) / a.sqrt()""",
    "beta instead of sqrt(beta)": """
        a, ab, b = schedule.alpha[t], schedule.alpha_bar[t], schedule.beta[t]
        mean = (x_t - (1 - a) / (1 - ab).sqrt() * eps) / a.sqrt()
        return mean if t == 1 else mean + b * z""",
    "no sqrt in the eps coefficient": """
        a, ab, b = schedule.alpha[t], schedule.alpha_bar[t], schedule.beta[t]
        mean = (x_t - (1 - a) / (1 - ab) * eps) / a.sqrt()
        return mean if t == 1 else mean + b.sqrt() * z""",
    "alpha_bar where alpha belongs": """
        ab, b = schedule.alpha_bar[t], schedule.beta[t]
        mean = (x_t - (1 - ab) / (1 - ab).sqrt() * eps) / ab.sqrt()
        return mean if t == 1 else mean + b.sqrt() * z""",
    "no rescaling by 1/sqrt(alpha)": """
        a, ab, b = schedule.alpha[t], schedule.alpha_bar[t], schedule.beta[t]
        mean = x_t - (1 - a) / (1 - ab).sqrt() * eps
        return mean if t == 1 else mean + b.sqrt() * z""",
}
STEP_RIGHT = {
    "beta over sqrt(1 - alpha_bar), masked noise": """
        coef = schedule.beta[t] / torch.sqrt(1 - schedule.alpha_bar[t])
        mean = (x_t - coef * eps) * torch.rsqrt(schedule.alpha[t])
        sigma = schedule.beta[t].sqrt() * float(t > 1)
        return mean + sigma * z""",
    "scalars as Python floats": """
        a, ab, b = float(schedule.alpha[t]), float(schedule.alpha_bar[t]), float(schedule.beta[t])
        mean = (x_t - eps * (1 - a) / (1 - ab) ** 0.5) / a ** 0.5
        if t > 1:
            mean = mean + b ** 0.5 * z
        return mean""",
}

# ------------------------------------------------------------------------------------------------ x̂₀
X0_HEAD = "def my_predict_x0(x_t, t, eps, schedule):\n"
X0_WRONG = {
    "no division by sqrt(alpha_bar)": "    return x_t - (1 - schedule.alpha_bar[t]).sqrt() * eps",
    "1 - alpha_bar without sqrt": "    ab = schedule.alpha_bar[t]\n    return (x_t - (1 - ab) * eps) / ab.sqrt()",
    "alpha instead of alpha_bar": "    a = schedule.alpha[t]\n    return (x_t - (1 - a).sqrt() * eps) / a.sqrt()",
    "plus instead of minus": "    ab = schedule.alpha_bar[t]\n    return (x_t + (1 - ab).sqrt() * eps) / ab.sqrt()",
    "divide by alpha_bar, not its root":
        "    ab = schedule.alpha_bar[t]\n    return (x_t - (1 - ab).sqrt() * eps) / ab",
}
X0_RIGHT = {
    "split fraction": "    ab = schedule.alpha_bar[t]\n    return x_t / ab.sqrt() - ((1 - ab) / ab).sqrt() * eps",
    "rsqrt of floats": ("    ab = float(schedule.alpha_bar[t])\n"
                        "    return (x_t - (1.0 - ab) ** 0.5 * eps) * ab ** -0.5"),
}

# ------------------------------------------------------------------------------------------------ the loop
LOOP_HEAD = "def my_sample(model, x_T, schedule, step_fn, extra_noise=True, generator=None):\n"


def _loop(order="range(T, 0, -1)", tnorm="torch.full((x.shape[0],), t / T, device=x.device)",
          noise="torch.randn(x.shape, generator=generator, device=x.device)", ctx="torch.no_grad()",
          update="x = step_fn(x, t, eps, schedule, z)", ret="x", before="", zeros="torch.zeros_like(x)"):
    return f"""
    T = schedule.timesteps
    x = x_T
    {before}
    with {ctx}:
        for t in {order}:
            eps = model(x, {tnorm})
            z = {noise} if extra_noise else {zeros}
            {update}
    return {ret}"""


LOOP_WRONG = {
    "t ascending": (_loop(order="range(1, T + 1)"), "upwards"),
    "t not normalised (float t)": (_loop(tnorm="torch.full((x.shape[0],), float(t), device=x.device)"), "t/T"),
    "t not normalised (int t)": (_loop(tnorm="t"), "t/T"),
    "starts at T - 1": (_loop(order="range(T - 1, 0, -1)"), "off by one"),
    "also runs t = 0": (_loop(order="range(T, -1, -1)"), "off by one"),
    "reversed(range(T))": (_loop(order="reversed(range(T))"), "off by one"),
    "no torch.no_grad": (_loop(ctx="torch.enable_grad()"), "no_grad"),
    "global RNG, generator ignored": (_loop(noise="torch.randn(x.shape)"), "generator"),
    "never adds noise": (_loop(noise="torch.zeros_like(x)"), "fresh noise"),
    "one z for all steps": (_loop(before="z0 = torch.randn(x_T.shape, generator=generator)", noise="z0"), "fresh z"),
    "x never updated": (_loop(update="x_next = step_fn(x, t, eps, schedule, z)", ret="x_next"), "stale x"),
    "returns x_T": (_loop(update="x = step_fn(x, t, eps, schedule, z)", ret="x_T"), "returned x_T"),
    "adds its own noise on every step, last included": (_loop(
        update="x = step_fn(x, t, eps, schedule, torch.zeros_like(x)) + schedule.beta[t].sqrt() * z"), "z = 0"),
    "z pre-scaled by sqrt(beta)": (_loop(noise="schedule.beta[t].sqrt() * torch.randn(x.shape, generator=generator)"),
                                   "standard normal"),
    "extra_noise ignored": (_loop(zeros="torch.randn(x.shape, generator=generator)"), "zeros_like"),
    "own generator, reseeded": (_loop(before="generator = torch.Generator().manual_seed(0)"), "generator"),
}
LOOP_RIGHT = {
    "noise drawn up front, inference_mode, float t/T": """
    T = schedule.timesteps
    zs = torch.randn((T,) + tuple(x_T.shape), generator=generator, device=x_T.device)
    x = x_T.clone()
    with torch.inference_mode():
        for i, t in enumerate(reversed(range(1, T + 1))):
            eps = model(x, t / T)
            z = zs[i] if extra_noise else torch.zeros_like(x)
            x = step_fn(x, t, eps, schedule, z)
    return x""",
    "while loop, (B, 1) times, no z at t = 1": """
    T, B = schedule.timesteps, x_T.shape[0]
    x, t = x_T, T
    with torch.no_grad():
        while t >= 1:
            eps = model(x, torch.ones(B, 1, device=x.device) * (t / T))
            if extra_noise and t > 1:
                z = torch.randn(x.shape, generator=generator, device=x.device)
            else:
                z = torch.zeros_like(x)
            x = step_fn(x_t=x, t=t, eps=eps, schedule=schedule, z=z)
            t -= 1
    return x""",
}


STEP_HINTS = {
    "noise on the last step": "noise was added on the last step",
    "never any noise": "no noise was added",
    "beta instead of sqrt(beta)": "it needs √β_t",
    "no sqrt in the eps coefficient": "needs √(1 − ᾱ_t) in the denominator",
    "alpha_bar where alpha belongs": "the one-step α_t",
    "no rescaling by 1/sqrt(alpha)": "the factor 1/√α_t",
}
X0_HINTS = {
    "no division by sqrt(alpha_bar)": "divide by √ᾱ_t",
    "1 - alpha_bar without sqrt": "scaled by √(1 − ᾱ_t)",
    "alpha instead of alpha_bar": "cumulative ᾱ_t",
    "plus instead of minus": "subtracts it",
    "divide by alpha_bar, not its root": "divided by ᾱ_t",
}

CATALOGUES = [
    Catalogue("01", "nb01_ddpm_step", wrong_answers(STEP_HEAD, STEP_WRONG, STEP_HINTS),
              right_answers(STEP_HEAD, STEP_RIGHT)),
    Catalogue("01", "nb01_predict_x0", wrong_answers(X0_HEAD, X0_WRONG, X0_HINTS), right_answers(X0_HEAD, X0_RIGHT)),
    Catalogue("01", "nb01_sample", wrong_answers(LOOP_HEAD, LOOP_WRONG), right_answers(LOOP_HEAD, LOOP_RIGHT)),
]
