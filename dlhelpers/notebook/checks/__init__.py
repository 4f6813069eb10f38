"""Exercise checks, one module per notebook (sampling, unet, training, context, ddim); ``common`` holds the
shared machinery. ``from dlhelpers.notebook.checks import check_ddpm_step`` works for every check."""
from dlhelpers.notebook.checks.common import ExerciseError  # noqa: F401
from dlhelpers.notebook.checks.sampling import check_ddpm_step, check_predict_x0, check_sample  # noqa: F401
from dlhelpers.notebook.checks.unet import check_inject, check_one_hot_context  # noqa: F401
from dlhelpers.notebook.checks.training import check_add_noise, check_train_step, check_training_loss  # noqa: F401
from dlhelpers.notebook.checks.context import check_guidance, check_mix_contexts  # noqa: F401
from dlhelpers.notebook.checks.ddim import (check_ddim_eta_step, check_ddim_step,  # noqa: F401
                                            check_ddim_timesteps)
