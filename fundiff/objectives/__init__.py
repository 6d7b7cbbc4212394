"""Part B training objectives: the denoiser's, flow matching's and the MNIST diffusion backend's."""
