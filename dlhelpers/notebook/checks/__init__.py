"""Exercise checks, one module per notebook (sampling, unet, training, context, ddim, flow: notebooks 1–6);
``common`` holds the shared machinery. ``from dlhelpers.notebook.checks import check_ddpm_step`` works for every
check."""
from dlhelpers.notebook.checks.common import ExerciseError
from dlhelpers.notebook.checks.sampling import check_ddpm_step, check_predict_x0, check_sample
from dlhelpers.notebook.checks.unet import check_inject, check_one_hot_context
from dlhelpers.notebook.checks.training import check_add_noise, check_train_step, check_training_loss
from dlhelpers.notebook.checks.context import check_guidance, check_mix_contexts
from dlhelpers.notebook.checks.ddim import check_ddim_eta_step, check_ddim_step, check_ddim_timesteps
from dlhelpers.notebook.checks.flow import check_euler_sample, check_flow_loss, check_interpolate

__all__ = ["ExerciseError",
           "check_ddpm_step", "check_predict_x0", "check_sample",
           "check_inject", "check_one_hot_context",
           "check_add_noise", "check_train_step", "check_training_loss",
           "check_guidance", "check_mix_contexts",
           "check_ddim_eta_step", "check_ddim_step", "check_ddim_timesteps",
           "check_euler_sample", "check_flow_loss", "check_interpolate"]
