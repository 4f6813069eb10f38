"""Notebook 03 (training): forward noising, the loss, context dropout and the training step — wrong answers with
the hints their checks give, and genuinely different right ones."""
from dlhelpers.tools.catalogues import Catalogue, right_answers, wrong_answers

IMPORTS = "import torch\nimport torch.nn.functional as F\n"


# ------------------------------------------------------------------------------------------------ (a) add noise
NOISE_HEAD = "def my_add_noise(x0, t, noise, schedule):\n"
_AB = "ab = schedule.alpha_bar[t].view(-1, 1, 1, 1)\n"
NOISE_WRONG = {   # name → (body, the phrase the check's message must contain)
    "no sqrt on the noise's factor": (_AB + "return ab.sqrt() * x0 + (1 - ab) * noise", "square root √(1 − ᾱ_t)"),
    "no sqrt on x0's factor": (_AB + "return ab * x0 + (1 - ab).sqrt() * noise", "square root √ᾱ_t"),
    "alpha instead of alpha_bar": ("a = schedule.alpha[t].view(-1, 1, 1, 1)\n"
                                   "return a.sqrt() * x0 + (1 - a).sqrt() * noise", "cumulative ᾱ_t"),
    "no reshape of alpha_bar": ("ab = schedule.alpha_bar[t]\nreturn ab.sqrt() * x0 + (1 - ab).sqrt() * noise",
                                "(B, 1, 1, 1)"),
    "alpha_bar[t - 1]": ("ab = schedule.alpha_bar[t - 1].view(-1, 1, 1, 1)\n"
                         "return ab.sqrt() * x0 + (1 - ab).sqrt() * noise", "off by one"),
    "first image's t for all": ("ab = schedule.alpha_bar[t[0]]\nreturn ab.sqrt() * x0 + (1 - ab).sqrt() * noise",
                                "each image's own t"),
    "x0 and noise swapped": (_AB + "return ab.sqrt() * noise + (1 - ab).sqrt() * x0", "swapped"),
    "in place": (_AB + "return x0.mul_(ab.sqrt()).add_((1 - ab).sqrt() * noise)", "in place"),
}
NOISE_RIGHT = {
    "view": _AB + "return ab.sqrt() * x0 + (1 - ab).sqrt() * noise",
    "gather and None-indexing": ("s = schedule.alpha_bar.gather(0, t).sqrt()[:, None, None, None]\n"
                                 "return s * x0 + (1 - s ** 2).sqrt() * noise"),
    "loop over the images": """
        out = []
        for i in range(x0.shape[0]):
            ab = schedule.alpha_bar[int(t[i])]
            out.append(ab.sqrt() * x0[i] + (1 - ab).sqrt() * noise[i])
        return torch.stack(out)""",
    "library call": "return schedule.add_noise(x0, t, noise)",
}

# ------------------------------------------------------------------------------------------------ (b) the loss
ADD_NOISE = NOISE_HEAD + "    " + _AB + "    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise\n"
LOSS_HEAD = "def my_loss(model, x0, context, schedule, generator):\n"
_T = "B, T = x0.shape[0], schedule.timesteps\n"
_DRAW_T = "t = torch.randint(1, T + 1, (B,), generator=generator, device=x0.device)\n"
_DRAW_N = "noise = torch.randn(x0.shape, generator=generator, device=x0.device)\n"
_XT = "x_t = my_add_noise(x0, t, noise, schedule)\n"
_OK = _T + _DRAW_T + _DRAW_N + _XT


def _ret(pred="model(x_t, t.float() / T, context)", target="noise", fn="F.mse_loss", extra=""):
    return f"return {fn}({pred}, {target}{extra})"


LOSS_WRONG = {
    "clean image to the model": (_T + _DRAW_T + _DRAW_N + _ret(pred="model(x0, t.float() / T, context)"), "clean x0"),
    "two different noises": (_OK + "target = torch.randn(x0.shape, generator=generator)\n" + _ret(target="target"),
                             "another noise"),
    "context left out": (_OK + _ret(pred="model(x_t, t.float() / T)"), "no context"),
    "integer t to the model": (_OK + _ret(pred="model(x_t, t.float(), context)"), "normalised time"),
    "t = 0 allowed": (_T + "t = torch.randint(0, T, (B,), generator=generator)\n" + _DRAW_N + _XT + _ret(), "t = 0"),
    "t never reaches T": (_T + "t = torch.randint(1, T, (B,), generator=generator)\n" + _DRAW_N + _XT + _ret(),
                          "never reached T"),
    "one t for the whole batch": (_T + "t = torch.randint(1, T + 1, (1,), generator=generator).expand(B)\n" + _DRAW_N
                                  + _XT + _ret(), "random t per image"),
    "target x0": (_OK + _ret(target="x0"), "target is x0"),
    "t drawn again after x_t": (_OK + _DRAW_T + _ret(), "do not match"),
    "global RNG": (_T + "t = torch.randint(1, T + 1, (B,))\nnoise = torch.randn(x0.shape)\n" + _XT + _ret(),
                   "generator"),
    "T hard-coded to 500": ("B, T = x0.shape[0], 500\n" + _DRAW_T + _DRAW_N + _XT + _ret(), "T = 100"),
    "sum instead of mean": (_OK + _ret(extra=", reduction='sum'"), "sum instead of the mean"),
    "absolute error": (_OK + _ret(fn="F.l1_loss"), "mean of the squared error"),
    "returns a float": (_OK + _ret() + ".item()", "not .item()"),
}
LOSS_RIGHT = {
    "noise first, formula inline": (_T + _DRAW_N + _DRAW_T + "ab = schedule.alpha_bar[t][:, None, None, None]\n"
                                    "x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * noise\n"
                                    "return ((model(x_t, t / T, context) - noise) ** 2).mean()"),
    "library noising, float division": """
        T = schedule.timesteps
        t = torch.randint(1, T + 1, (len(x0),), generator=generator, device=x0.device)
        eps = torch.randn(x0.shape, generator=generator, device=x0.device)
        pred = model(schedule.add_noise(x0, t, eps), t.to(torch.float32) / float(T), context)
        return F.mse_loss(pred, eps, reduction='mean')""",
}

# ------------------------------------------------------------------------------------------ (c) context dropout
DROP_HEAD = "def my_drop_context(context, p_uncond, generator):\n"
_RAND = "torch.rand({shape}, generator=generator, device=context.device)"
DROP_WRONG = {
    "dropped with probability 1 - p": (f"keep = {_RAND.format(shape='(len(context), 1)')} < p_uncond\n"
                                       "return context * keep", "wrong way round"),
    "one draw for the whole batch": (f"if {_RAND.format(shape='()')} < p_uncond:\n"
                                     "    return torch.zeros_like(context)\nreturn context.clone()", "whole batch"),
    "one draw per entry": (f"keep = {_RAND.format(shape='context.shape')} >= p_uncond\nreturn context * keep",
                           "single entries"),
    "F.dropout": ("return F.dropout(context, p=p_uncond, training=True)", "1/(1 − p_uncond)"),
    "global RNG": ("keep = torch.rand(len(context), 1) >= p_uncond\nreturn context * keep", "`generator`"),
    "fresh generator": ("gen = torch.Generator().manual_seed(0)\n"
                        "keep = torch.rand(len(context), 1, generator=gen) >= p_uncond\nreturn context * keep",
                        "`generator`"),
    "in place": (f"drop = {_RAND.format(shape='len(context)')} < p_uncond\ncontext[drop] = 0\nreturn context",
                 "in place"),
    "dropped rows removed": (f"keep = {_RAND.format(shape='len(context)')} >= p_uncond\nreturn context[keep]",
                             "removed the dropped rows"),
    "(B,) mask without a new axis": (f"keep = {_RAND.format(shape='len(context)')} >= p_uncond\n"
                                     "return context * keep", "shape it (B, 1)"),
    "p_uncond hard-coded": (f"keep = {_RAND.format(shape='(len(context), 1)')} >= 0.1\nreturn context * keep",
                            "hard-coded"),
    "uniform null context": (f"drop = {_RAND.format(shape='len(context)')} < p_uncond\nout = context.clone()\n"
                             "out[drop] = 1 / context.shape[1]\nreturn out", "all zeros"),
}
DROP_RIGHT = {
    "bernoulli and masked_fill": """
        drop = torch.bernoulli(torch.full((len(context), 1), float(p_uncond), device=context.device),
                               generator=generator).bool()
        return context.masked_fill(drop, 0.0)""",
    "torch.where on a (B,) draw": f"""
        u = {_RAND.format(shape='context.shape[0]')}
        return torch.where((u < p_uncond)[:, None], torch.zeros_like(context), context)""",
    "zeros assigned to a copy": f"""
        out = context.clone()
        out[{_RAND.format(shape='len(context)')} < p_uncond] = 0
        return out""",
}

# --------------------------------------------------------------------------------------------- (d) train step
LOSS = LOSS_HEAD + "".join("    " + ln + "\n" for ln in (_OK + _ret()).splitlines())
DROP = (DROP_HEAD + f"    keep = {_RAND.format(shape='(len(context), 1)')} >= p_uncond\n"
        "    return context * keep\n")
STEP_HEAD = "def my_train_step(model, optimizer, x0, context, schedule, generator, p_uncond):\n"
_CTX = "c = my_drop_context(context, p_uncond, generator)\n"
_LOSS = "loss = my_loss(model, x0, c, schedule, generator)\n"
_GOOD = "optimizer.zero_grad()\n" + _CTX + _LOSS + "loss.backward()\noptimizer.step()\n"
STEP_WRONG = {
    "no zero_grad": (_CTX + _LOSS + "loss.backward()\noptimizer.step()\nreturn loss.item()", "zero_grad() before"),
    "zero_grad between backward and step": (_CTX + _LOSS + "loss.backward()\noptimizer.zero_grad()\noptimizer.step()\n"
                                            "return loss.item()", "did not change"),
    "zero_grad at the end": (_CTX + _LOSS + "loss.backward()\noptimizer.step()\noptimizer.zero_grad()\n"
                             "return loss.item()", "zero_grad() before"),
    "no step": ("optimizer.zero_grad()\n" + _CTX + _LOSS + "loss.backward()\nreturn loss.item()", "did not change"),
    "no backward": ("optimizer.zero_grad()\n" + _CTX + _LOSS + "optimizer.step()\nreturn loss.item()",
                    "did not change"),
    "returns the tensor": (_GOOD + "return loss", "loss.item()"),
    "returns nothing": (_GOOD, "loss.item()"),
    "two steps": (_GOOD + "optimizer.step()\nreturn loss.item()", "one optimizer.step()"),
    "own optimizer": ("opt = torch.optim.Adam(model.parameters())\nopt.zero_grad()\n" + _CTX + _LOSS
                      + "loss.backward()\nopt.step()\nreturn loss.item()", "the optimizer you were given"),
    "fresh generator": ("optimizer.zero_grad()\ngen = torch.Generator().manual_seed(0)\n"
                        "loss = my_loss(model, x0, my_drop_context(context, p_uncond, gen), schedule, gen)\n"
                        "loss.backward()\noptimizer.step()\nreturn loss.item()", "generator"),
    "context left out": ("optimizer.zero_grad()\nloss = my_loss(model, x0, None, schedule, generator)\n"
                         "loss.backward()\noptimizer.step()\nreturn loss.item()", "did not get the batch's context"),
    "no context dropout": ("optimizer.zero_grad()\nloss = my_loss(model, x0, context, schedule, generator)\n"
                           "loss.backward()\noptimizer.step()\nreturn loss.item()", "null contexts"),
}
STEP_RIGHT = {
    "model.zero_grad after the loss": (_CTX + _LOSS + "model.zero_grad(set_to_none=True)\nloss.backward()\n"
                                       "optimizer.step()\nreturn float(loss)"),
    "gradients reset by hand, dropout inline": """
        for p in model.parameters():
            p.grad = None
        keep = torch.rand(len(context), 1, generator=generator) >= p_uncond
        loss = my_loss(model, x0, torch.where(keep, context, torch.zeros_like(context)), schedule, generator)
        loss.backward()
        optimizer.step()
        return float(loss.detach())""",
}

CATALOGUES = [
    Catalogue("03", "nb03_add_noise", wrong_answers(NOISE_HEAD, NOISE_WRONG), right_answers(NOISE_HEAD, NOISE_RIGHT),
              setup="import torch\n"),
    Catalogue("03", "nb03_training_loss", wrong_answers(LOSS_HEAD, LOSS_WRONG), right_answers(LOSS_HEAD, LOSS_RIGHT),
              setup=IMPORTS + ADD_NOISE),
    Catalogue("03", "nb03_context_dropout", wrong_answers(DROP_HEAD, DROP_WRONG), right_answers(DROP_HEAD, DROP_RIGHT),
              setup=IMPORTS),
    Catalogue("03", "nb03_train_step", wrong_answers(STEP_HEAD, STEP_WRONG), right_answers(STEP_HEAD, STEP_RIGHT),
              setup=IMPORTS + ADD_NOISE + LOSS + DROP),
]
