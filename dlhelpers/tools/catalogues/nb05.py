"""Notebook 05 (DDIM): the timesteps to visit, the η = 0 step composed from x̂₀ and the forward jump, and the η > 0
step — wrong answers with the hint each check gives, and genuinely different right ones."""
from dlhelpers.tools.catalogues import Catalogue, right_answers, wrong_answers

# ------------------------------------------------------------------------------------------------ (a) timesteps
TS_HEAD = "def my_ddim_timesteps(T, n):\n"
TS_SETUP = "import math\nimport numpy as np\nimport torch\n"
TS_WRONG = {
    "range with stride T // n, down to 0": ("return list(range(T, -1, -(T // n)))", "stride of T // n"),
    "floats i * T / n": ("return [i * T / n for i in range(n, -1, -1)]", "a float cannot index"),
    "stride ceil(T / n), then append 0": ("s = -(-T // n)\nreturn list(range(T, 0, -s)) + [0]", "lopsided"),
    "ascending": ("return [i * T // n for i in range(n + 1)]", "ascends"),
    "final 0 missing": ("return [i * T // n for i in range(n, 0, -1)]", "leave out T or the final 0"),
    "ceil stride, clipped at 0": ("s = math.ceil(T / n)\nreturn [max(T - k * s, 0) for k in range(n + 1)]",
                                           "lopsided"),
    "float tensor from linspace": ("return torch.linspace(T, 0, n + 1)", "a float cannot index"),
    "stride T // n, cut to n, then append 0": ("return list(range(T, 0, -(T // n)))[:n] + [0]", "lopsided"),
}
TS_RIGHT = {
    "floor of i * T / n": "return [i * T // n for i in range(n, -1, -1)]",
    "round(i * T / n)": "return [round(i * T / n) for i in range(n, -1, -1)]",
    "ceiling of i * T / n": "return [-(-i * T // n) for i in range(n, -1, -1)]",
    "count down, remainder spread over the first steps": (
        "q, r = divmod(T, n)\nts = [T]\nfor k in range(n):\n    ts.append(ts[-1] - q - (1 if k < r else 0))\n"
        "return ts"),
    "numpy int array from linspace": "return np.linspace(T, 0, n + 1).round().astype(np.int64)",
    "torch int tensor": "return torch.div(torch.arange(n, -1, -1) * T, n, rounding_mode='floor')",
}

# ------------------------------------------------------------------------------------------ (b) the η = 0 step
STEP_HEAD = "def my_ddim_step(x_t, t, t_prev, eps, schedule):\n"
STEP_WRONG = {
    "stepped to t - 1": ("return schedule.add_noise(schedule.predict_x0(x_t, t, eps), t - 1, eps)", "t − 1"),
    "noised back to t": ("return schedule.add_noise(schedule.predict_x0(x_t, t, eps), t, eps)", "unchanged"),
    "t_prev for both halves": ("return schedule.add_noise(schedule.predict_x0(x_t, t_prev, eps), t_prev, eps)",
                               "unchanged"),
    "roles swapped": ("return schedule.add_noise(schedule.predict_x0(x_t, t_prev, eps), t, eps)", "swapped"),
    "returns x0_hat": ("return schedule.predict_x0(x_t, t, eps)", "returned x̂₀"),
    "fresh noise instead of eps": (
        "x0 = schedule.predict_x0(x_t, t, eps)\nreturn schedule.add_noise(x0, t_prev, torch.randn_like(eps))",
        "re-use the predicted ε"),
    "alpha where alpha_bar belongs": (
        "a, ap = schedule.alpha[t], schedule.alpha[t_prev]\n"
        "return ap.sqrt() * (x_t - (1 - a).sqrt() * eps) / a.sqrt() + (1 - ap).sqrt() * eps", "cumulative"),
}
STEP_RIGHT = {
    "the two library pieces": "return schedule.add_noise(schedule.predict_x0(x_t, t, eps), t_prev, eps)",
    "written out": ("ab, ap = schedule.alpha_bar[t], schedule.alpha_bar[t_prev]\n"
                    "x0 = (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()\nreturn ap.sqrt() * x0 + (1 - ap).sqrt() * eps"),
    "one linear map of x_t and eps": (
        "ab, ap = schedule.alpha_bar[t], schedule.alpha_bar[t_prev]\n"
        "return (ap / ab).sqrt() * x_t + ((1 - ap).sqrt() - (ap * (1 - ab) / ab).sqrt()) * eps"),
    "Python floats": ("ab, ap = float(schedule.alpha_bar[t]), float(schedule.alpha_bar[t_prev])\n"
                      "x0 = (x_t - (1 - ab) ** 0.5 * eps) / ab ** 0.5\nreturn ap ** 0.5 * x0 + (1 - ap) ** 0.5 * eps"),
}

# ------------------------------------------------------------------------------------------- (c) the η > 0 step
ETA_HEAD = "def my_ddim_eta_step(x_t, t, t_prev, eps, schedule, eta, z):\n"


def _eta(sigma="eta * ((1 - ap) / (1 - ab)).sqrt() * (1 - ab / ap).sqrt()", x0="schedule.predict_x0(x_t, t, eps)",
         coef="(1 - ap - sigma ** 2).sqrt()", noise="sigma * z", abar="alpha_bar"):
    return (f"ab, ap = schedule.{abar}[t], schedule.{abar}[t_prev]\n"
            f"sigma = {sigma}\n"
            f"x0_hat = {x0}\n"
            f"return ap.sqrt() * x0_hat + {coef} * eps + {noise}")


ETA_WRONG = {
    "sigma without eta": (_eta(sigma="((1 - ap) / (1 - ab)).sqrt() * (1 - ab / ap).sqrt()"), "σ ignores η"),
    "no fresh noise": (_eta(noise="0"), "forgot the fresh noise σ·z"),
    "sigma squared times z": (_eta(noise="sigma ** 2 * z"), "not σ²·z"),
    "eps coefficient without sigma": (_eta(coef="(1 - ap).sqrt()"), "leave room for the fresh noise"),
    "sigma instead of sigma squared under the root": (_eta(coef="(1 - ap - sigma).sqrt()"), "subtract σ², not σ"),
    "notebook 1's sigma = eta * sqrt(beta_t)": (_eta(sigma="eta * schedule.beta[t].sqrt()"),
                                                "notebook 1's DDPM choice"),
    "only the second factor of eq. 16": (_eta(sigma="eta * (1 - ab / ap).sqrt()"), "both factors of eq. 16"),
    "alpha_bar_t and alpha_bar_prev swapped in sigma": (
        _eta(sigma="eta * ((1 - ab) / (1 - ap)).sqrt() * (1 - ap / ab).sqrt()"), "swapped in σ"),
    "alpha where alpha_bar belongs": (_eta(x0="(x_t - (1 - ab).sqrt() * eps) / ab.sqrt()", abar="alpha"),
                                      "cumulative ᾱ"),
    "x_t where x0_hat belongs": (_eta(x0="x_t"), "scales x̂₀"),
}
ETA_RIGHT = {
    "x0_hat from the schedule, sigma from eq. 16": _eta(),
    "variance first, written with Python floats": (
        "ab, ap = float(schedule.alpha_bar[t]), float(schedule.alpha_bar[t_prev])\n"
        "var = eta ** 2 * (1 - ap) * (ap - ab) / ((1 - ab) * ap)\n"
        "x0 = (x_t - (1 - ab) ** 0.5 * eps) / ab ** 0.5\n"
        "return ap ** 0.5 * x0 + max(1 - ap - var, 0.0) ** 0.5 * eps + var ** 0.5 * z"),
    "the eta = 0 step plus a correction": (
        "ab, ap = schedule.alpha_bar[t], schedule.alpha_bar[t_prev]\n"
        "sigma = eta * torch.sqrt((1 - ap) / (1 - ab) * (1 - ab / ap))\n"
        "x0 = schedule.predict_x0(x_t, t, eps)\n"
        "deterministic = schedule.add_noise(x0, t_prev, eps)\n"
        "return deterministic + ((1 - ap - sigma ** 2).sqrt() - (1 - ap).sqrt()) * eps + sigma * z"),
}


CATALOGUES = [
    Catalogue("05", "nb05_ddim_timesteps", wrong_answers(TS_HEAD, TS_WRONG), right_answers(TS_HEAD, TS_RIGHT),
              setup=TS_SETUP),
    Catalogue("05", "nb05_ddim_step", wrong_answers(STEP_HEAD, STEP_WRONG), right_answers(STEP_HEAD, STEP_RIGHT)),
    Catalogue("05", "nb05_ddim_eta_step", wrong_answers(ETA_HEAD, ETA_WRONG), right_answers(ETA_HEAD, ETA_RIGHT)),
]
