"""Submissions to grade: realistic student bugs, and correct code written another way.

Each case edits the graded code of the solution notebook of its part (every
``old`` must occur exactly once, so a case cannot silently stop applying) and
names the checks it must fail; every other check must pass. Hostile code is in
``tests/autograder/hostile.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# the checks of each rule's step (``fundiff.diffusion.rules``), and those of the loops on top of it: a
# broken estimate_x0 or step breaks them all (a step of the other rule breaks only the step's checks)
STEP = {"writeup": frozenset({"test_writeup_step", "test_writeup_step_adds_sigma_z"}),
        "ddpm": frozenset({"test_ddpm_step"})}  # fmt: skip
LOOPS = frozenset({"test_iterative_denoise", "test_sample", "test_sdedit", "test_inpaint"})
A_LOOPS = STEP["writeup"] | LOOPS  # the course's rule: the cases of no rule are graded under it
A_LOOPS_DDPM = STEP["ddpm"] | LOOPS
A_GUIDED = {"test_guided_prediction", "test_guided", "test_anagram", "test_anagram_with_a_pixel_permutation",
            "test_hybrid", "test_factorized_grayscale_and_colour"}  # fmt: skip
B_TRUNKS = {"test_unconditional_unet", "test_time_conditional_unet", "test_class_conditional_unet"}


@dataclass(frozen=True)
class Case:
    """One submission: ``edits`` to the solution's graded code of ``part``, and the checks it must fail."""

    part: str
    edits: tuple[tuple[str, str], ...]
    fails: frozenset[str] = field(default_factory=frozenset)
    prefix: str = ""  # code put before the graded code
    suffix: str = ""  # code put after it
    rule: str | None = (
        None  # the update rule of the notebook it edits; None: the course's (writeup)
    )


def case(part: str, *edits: tuple[str, str], fails: set[str] | frozenset[str] = frozenset(), prefix: str = "",
         suffix: str = "", rule: str | None = None) -> Case:  # fmt: skip
    return Case(part, tuple(edits), frozenset(fails), prefix, suffix, rule)


WRONG: dict[str, Case] = {
    # Part A
    "a_forward_no_sqrt": case("part_a", ("return abar.sqrt() * x0 + (1 - abar).sqrt() * eps", "return abar * x0 + (1 - abar) * eps"),
                              fails={"test_forward_with_given_noise", "test_forward_draws_from_the_generator", "test_sdedit", "test_inpaint"}),
    "a_forward_swapped": case("part_a", ("return abar.sqrt() * x0 + (1 - abar).sqrt() * eps", "return abar.sqrt() * eps + (1 - abar).sqrt() * x0"),
                              fails={"test_forward_with_given_noise", "test_forward_draws_from_the_generator", "test_sdedit", "test_inpaint"}),
    "a_forward_unseeded_noise": case("part_a", ("eps = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)",
                                                "eps = torch.randn(x0.shape, device=x0.device, dtype=x0.dtype)"),
                                     fails={"test_forward_draws_from_the_generator", "test_sdedit", "test_inpaint"}),
    "a_estimate_x0_sign": case("part_a", ("return (x_t - (1 - abar_t).sqrt() * eps) / abar_t.sqrt()", "return (x_t + (1 - abar_t).sqrt() * eps) / abar_t.sqrt()"),
                               fails={"test_estimate_x0", "test_sample_draws_digits_with_the_shipped_model"} | A_LOOPS),
    "a_estimate_x0_no_sqrt": case("part_a", ("return (x_t - (1 - abar_t).sqrt() * eps) / abar_t.sqrt()", "return (x_t - (1 - abar_t) * eps) / abar_t"),
                                  fails={"test_estimate_x0", "test_sample_draws_digits_with_the_shipped_model"} | A_LOOPS),
    "a_posterior_mean_swapped": case("part_a", ("return (abar_prev.sqrt() * beta / (1 - abar_t)) * x0_hat + (", "return (abar_prev.sqrt() * beta / (1 - abar_t)) * x_t + ("),
                                     (") * x_t\n", ") * x0_hat\n"),
                                     fails={"test_posterior_mean"} | A_LOOPS_DDPM, rule="ddpm"),  # the shipped model still draws digits
    "a_posterior_mean_no_sqrt": case("part_a", ("return (abar_prev.sqrt() * beta / (1 - abar_t)) * x0_hat + (", "return (abar_prev * beta / (1 - abar_t)) * x0_hat + ("),
                                     fails={"test_posterior_mean"} | A_LOOPS_DDPM, rule="ddpm"),
    "a_log_variance_not_log": case("part_a", ("return ((1 - abar_prev) / (1 - abar_t) * beta).clamp(min=MIN_VARIANCE).log()",
                                              "return ((1 - abar_prev) / (1 - abar_t) * beta).clamp(min=MIN_VARIANCE)"),
                                   fails={"test_posterior_log_variance", "test_learned_range_log_variance",
                                          "test_sample_draws_digits_with_the_shipped_model"} | A_LOOPS_DDPM, rule="ddpm"),
    "a_learned_range_frac": case("part_a", ("    frac = (v + 1) / 2\n", "    frac = v\n"),
                                 fails={"test_learned_range_log_variance", "test_ddpm_step"}, rule="ddpm"),
    "a_ddpm_variance_not_std": case("part_a", ("return mean + (0.5 * log_var).exp() * z", "return mean + log_var.exp() * z"),
                                    fails=A_LOOPS_DDPM, rule="ddpm"),
    "a_ddpm_unseeded_noise": case("part_a", ("z = torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype)",
                                             "z = torch.randn(x_t.shape, device=x_t.device, dtype=x_t.dtype)"),
                                  fails=A_LOOPS_DDPM, rule="ddpm"),
    "a_iterative_stops_early": case("part_a", ("range(i_start, len(timesteps) - 1), desc=\"denoising\"", "range(i_start, len(timesteps) - 2), desc=\"denoising\""),
                                    fails={"test_iterative_denoise", "test_sample", "test_sdedit"}),
    "a_iterative_skips_first": case("part_a", ("range(i_start, len(timesteps) - 1), desc=\"denoising\"", "range(i_start + 1, len(timesteps) - 1), desc=\"denoising\""),
                                    fails={"test_iterative_denoise", "test_sample", "test_sdedit"}),
    "a_sample_uniform_noise": case("part_a", ("x = torch.randn(tuple(shape), generator=generator, device=device)", "x = torch.rand(tuple(shape), generator=generator, device=device)"),
                                   fails={"test_sample"}),
    "a_sample_unseeded": case("part_a", ("x = torch.randn(tuple(shape), generator=generator, device=device)", "x = torch.randn(tuple(shape), device=device)"),
                              fails={"test_sample"}),
    "a_cfg_swapped": case("part_a", ("return torch.lerp(uncond, cond, scale)", "return torch.lerp(cond, uncond, scale)"),
                          fails={"test_classifier_free_guidance"} | A_GUIDED),
    "a_guided_prediction_order": case("part_a", ("both = torch.cat([broadcast_batch(cond, b), broadcast_batch(uncond, b)])", "both = torch.cat([broadcast_batch(uncond, b), broadcast_batch(cond, b)])"),
                                      fails=A_GUIDED),
    "a_guided_ignores_scale": case("part_a", ("return lambda x, t: guided_prediction(backend, x, t, cond, uncond, scale)",
                                              "return lambda x, t: guided_prediction(backend, x, t, cond, uncond, DEFAULT_GUIDANCE)"),
                                   fails={"test_guided"}),
    "a_sdedit_full_noise": case("part_a", ("x_t = forward(image, timesteps[i_start], alphas_cumprod, generator)", "x_t = forward(image, timesteps[0], alphas_cumprod, generator)"),
                                fails={"test_sdedit"}),
    "a_inpaint_mask_inverted": case("part_a", ("x = mask * x + (1 - mask) * known", "x = (1 - mask) * x + mask * known"),
                                    fails={"test_inpaint", "test_inpaint_keeps_the_original_outside_the_mask"}),
    "a_inpaint_clean_original": case("part_a", ("known = original if t_prev == 0 else forward(original, t_prev, alphas_cumprod, generator)", "known = original"),
                                     fails={"test_inpaint"}),
    "a_anagram_not_inverted": case("part_a", ("eps.append(view.invert(p.eps))", "eps.append(p.eps)"),
                                   fails={"test_anagram", "test_anagram_with_a_pixel_permutation"}),
    "a_anagram_sum": case("part_a", ("return Prediction(torch.stack(eps).mean(0), mean_variance(var))", "return Prediction(torch.stack(eps).sum(0), mean_variance(var))"),
                          fails={"test_anagram", "test_anagram_with_a_pixel_permutation"}),
    "a_hybrid_swapped": case("part_a", ("return factorized(backend, [cond_low, cond_high], [low, high], uncond, scale)",
                                        "return factorized(backend, [cond_low, cond_high], [high, low], uncond, scale)"),
                             fails={"test_hybrid"}),
    "a_hybrid_fixed_filter": case("part_a", ("low, high = frequency_split(backend.image_shape[-1])", "low, high = frequency_split(64)"),
                                  fails={"test_hybrid"}),
    "a_factorized_mean": case("part_a", ("return Prediction(eps, mean_variance([p.variance for p in preds]))", "return Prediction(eps / len(preds), mean_variance([p.variance for p in preds]))"),
                              fails={"test_hybrid", "test_factorized_grayscale_and_colour"}),
    # Part B
    "b_conv_no_padding": case("part_b", ("nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1)", "nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=0)"),
                              fails={"test_block[Conv]", "test_block[ConvBlock]", "test_block[DownBlock]", "test_block[UpBlock]",
                                     "test_unconditional_unet_shape"} | B_TRUNKS),
    "b_conv_no_batchnorm": case("part_b", ("nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1),\n            nn.BatchNorm2d(out_channels),",
                                           "nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1),"),
                                fails={"test_block[Conv]", "test_block[ConvBlock]", "test_block[DownBlock]", "test_block[UpBlock]"} | B_TRUNKS),
    "b_downconv_stride_1": case("part_b", ("nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=2, padding=1)", "nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1)"),
                                fails={"test_block[DownConv]", "test_block[DownBlock]", "test_unconditional_unet_shape"} | B_TRUNKS),
    "b_upconv_kernel_3": case("part_b", ("nn.ConvTranspose2d(in_channels, out_channels, kernel_size=4, stride=2, padding=1)", "nn.ConvTranspose2d(in_channels, out_channels, kernel_size=3, stride=2, padding=1)"),
                              fails={"test_block[UpConv]", "test_block[UpBlock]", "test_unconditional_unet_shape"} | B_TRUNKS),
    "b_flatten_max_pool": case("part_b", ("super().__init__(nn.AvgPool2d(kernel_size=7), nn.GELU())", "super().__init__(nn.MaxPool2d(kernel_size=7), nn.GELU())"),
                               fails={"test_block[Flatten]"} | B_TRUNKS),
    "b_unflatten_relu": case("part_b", ("nn.BatchNorm2d(in_channels),\n            nn.GELU(),", "nn.BatchNorm2d(in_channels),\n            nn.ReLU(),"),
                             fails={"test_block[Unflatten]"} | B_TRUNKS),
    "b_skip_order": case("part_b", ("h = self.up1(torch.cat([e3, h], dim=1))", "h = self.up1(torch.cat([h, e3], dim=1))"), fails=B_TRUNKS),
    "b_modulate_adds_scale": case("part_b", ("h = h * as_feature_map(scale)", "h = h + as_feature_map(scale)"),
                                  fails={"test_time_conditional_unet", "test_class_conditional_unet"}),
    "b_add_noise_uniform": case("part_b", ("    eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)\n    return x + sigma * eps",
                                           "    eps = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)\n    return x + sigma * eps"),
                                fails={"test_add_noise", "test_denoiser_loss"}),
    "b_add_noise_unseeded": case("part_b", ("    eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)\n    return x + sigma * eps",
                                            "    eps = torch.randn(x.shape, device=x.device, dtype=x.dtype)\n    return x + sigma * eps"),
                                 fails={"test_add_noise", "test_denoiser_loss"}),
    "b_denoiser_target_noisy": case("part_b", ("return F.mse_loss(model(add_noise(x, sigma, generator)), x)", "z = add_noise(x, sigma, generator)\n    return F.mse_loss(model(z), z)"),
                                    fails={"test_denoiser_loss"}),
    "b_pure_noise_l1": case("part_b", ("return F.mse_loss(model(eps), x)", "return F.l1_loss(model(eps), x)"), fails={"test_pure_noise_loss"}),
    "b_fc_block_relu": case("part_b", ("nn.Linear(in_features, out_features),\n            nn.GELU(),", "nn.Linear(in_features, out_features),\n            nn.ReLU(),"),
                            fails={"test_fc_block", "test_time_conditional_unet", "test_class_conditional_unet"}),
    "b_time_not_reshaped": case("part_b", ("        t = time_column(t, x.shape[0]).to(x.dtype)\n        return self.trunk(x, scale1", "        return self.trunk(x, scale1"),
                                fails={"test_time_conditional_unet"}),
    "b_interpolate_swapped": case("part_b", ("return (1 - t) * x0 + t * x1", "return t * x0 + (1 - t) * x1"), fails={"test_interpolate", "test_flow_matching_loss"}),
    "b_target_reversed": case("part_b", ("    return x1 - x0\n", "    return x0 - x1\n"), fails={"test_flow_matching_loss"}),
    "b_flow_loss_sum": case("part_b", ("return F.mse_loss(velocity(x_t, t), target_velocity(x0, x1))", "return ((velocity(x_t, t) - target_velocity(x0, x1)) ** 2).sum()"),
                            fails={"test_flow_matching_loss"}),
    "b_euler_late_time": case("part_b", ("t = torch.full((x.shape[0],), i * dt, device=x.device, dtype=x.dtype)", "t = torch.full((x.shape[0],), (i + 1) * dt, device=x.device, dtype=x.dtype)"),
                              fails={"test_euler_integrate", "test_sample_time_conditional", "test_sample_class_conditional"}),
    "b_sample_time_uniform": case("part_b", ("x0 = torch.randn((num, *image_shape), generator=generator, device=device)", "x0 = torch.rand((num, *image_shape), generator=generator, device=device)"),
                                  fails={"test_sample_time_conditional"}),
    "b_class_scale_shift_swapped": case("part_b", ("scale1=self.fc1_c(c),\n            shift1=self.fc1_t(t),", "scale1=self.fc1_t(t),\n            shift1=self.fc1_c(c),"),
                                        fails={"test_class_conditional_unet"}),
    "b_dropout_inverted": case("part_b", ("generator=generator, device=labels.device) >= p_uncond", "generator=generator, device=labels.device) < p_uncond"),
                               fails={"test_one_hot_with_dropout"}),
    "b_dropout_unseeded": case("part_b", ("keep = torch.rand(labels.shape[0], generator=generator, device=labels.device) >= p_uncond", "keep = torch.rand(labels.shape[0], device=labels.device) >= p_uncond"),
                               fails={"test_one_hot_with_dropout"}),
    "b_cfg_swapped": case("part_b", ("return torch.lerp(uncond, cond, scale)", "return torch.lerp(cond, uncond, scale)"),
                          fails={"test_classifier_free_guidance", "test_class_velocity", "test_sample_class_conditional", "test_sampler_draws_digits_with_the_shipped_model"}),
    "b_uncond_ones": case("part_b", ("null = torch.zeros_like(c)", "null = torch.ones_like(c)"),
                          fails={"test_class_velocity", "test_sample_class_conditional"}),  # the shipped UNet still draws digits
    "b_sample_class_unseeded": case("part_b", ("x0 = torch.randn((labels.shape[0], *image_shape), generator=generator, device=labels.device)",
                                               "x0 = torch.randn((labels.shape[0], *image_shape), device=labels.device)"),
                                    fails={"test_sample_class_conditional"}),
    # a graded function that changes its caller's tensors in place
    "a_forward_in_place": case("part_a", ("return abar.sqrt() * x0 + (1 - abar).sqrt() * eps", "return x0.mul_(abar.sqrt()).add_((1 - abar).sqrt() * eps)"),
                               fails={"test_forward_with_given_noise", "test_forward_draws_from_the_generator", "test_sdedit", "test_inpaint",
                                      "test_inpaint_keeps_the_original_outside_the_mask"}),
    "a_iterative_writes_into_its_input": case("part_a", ("        x = denoise_step(x, predictor(x, t), t, t_prev, alphas_cumprod, variance_type, generator)\n        if on_step",
                                                         "        x[:] = denoise_step(x, predictor(x, t), t, t_prev, alphas_cumprod, variance_type, generator)\n        if on_step"),
                                              fails={"test_iterative_denoise"}),
    "a_inpaint_binarises_the_mask": case("part_a", ("    mask = check_mask(mask, original)\n", "    mask = check_mask(mask, original)\n    mask[mask > 0] = 1.0\n"),
                                         fails={"test_inpaint", "test_inpaint_keeps_the_original_outside_the_mask"}),
    "a_cfg_in_place": case("part_a", ("return torch.lerp(uncond, cond, scale)", "return cond.sub_(uncond).mul_(scale).add_(uncond)"),
                           fails={"test_classifier_free_guidance"}),  # guided_prediction hands it tensors of its own
    "b_interpolate_in_place": case("part_b", ("    return (1 - t) * x0 + t * x1", "    return x0.mul_(1 - t).add_(t * x1)"),
                                   fails={"test_interpolate", "test_flow_matching_loss"}),
    "b_add_noise_in_place": case("part_b", ("    return x + sigma * eps\n", "    x += sigma * eps\n    return x\n"), fails={"test_add_noise", "test_denoiser_loss"}),
    # results of the wrong dtype
    "a_forward_float64": case("part_a", ("return abar.sqrt() * x0 + (1 - abar).sqrt() * eps", "return abar.sqrt() * x0.double() + (1 - abar).sqrt() * eps"),
                              fails={"test_forward_with_given_noise", "test_forward_draws_from_the_generator", "test_sdedit", "test_inpaint",
                                     "test_inpaint_keeps_the_original_outside_the_mask"}),
    "a_learned_range_float64": case("part_a", ("    frac = (v + 1) / 2\n", "    frac = (v.double() + 1) / 2\n"),
                                    fails={"test_learned_range_log_variance", "test_ddpm_step"}, rule="ddpm"),
    "b_dropout_integer_vectors": case("part_b", ("    c = F.one_hot(labels, num_classes).float()  # (B, num_classes)", "    c = F.one_hot(labels, num_classes)  # (B, num_classes)"),
                                      fails={"test_one_hot_with_dropout"}),
    "b_euler_float64": case("part_b", ("    x = x0\n    dt = 1.0 / steps\n", "    x = x0.double()\n    dt = 1.0 / steps\n"),
                            fails={"test_euler_integrate", "test_sample_time_conditional", "test_sample_class_conditional",
                                   "test_sampler_draws_digits_with_the_shipped_model"}),
    # random choices that ignore the generator
    "a_forward_zero_noise": case("part_a", ("        eps = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)", "        eps = torch.zeros_like(x0)"),
                                 fails={"test_forward_draws_from_the_generator", "test_sdedit"}),  # inpainting hides the noise it pastes
    "a_ddpm_fixed_noise": case("part_a", ("    z = torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype)", "    z = torch.ones_like(x_t)"),
                               fails=A_LOOPS_DDPM | {"test_sample_draws_digits_with_the_shipped_model"}, rule="ddpm"),
    "b_dropout_by_label": case("part_b", ("    keep = torch.rand(labels.shape[0], generator=generator, device=labels.device) >= p_uncond", "    keep = labels % 10 != 0"),
                               fails={"test_one_hot_with_dropout"}),
    "b_dropout_first_rows": case("part_b", ("    keep = torch.rand(labels.shape[0], generator=generator, device=labels.device) >= p_uncond",
                                            "    keep = torch.arange(labels.shape[0], device=labels.device) >= p_uncond * labels.shape[0]"),
                                 fails={"test_one_hot_with_dropout"}),
    "b_add_noise_global_seed": case("part_b", ("    eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)\n    return x + sigma * eps",
                                               "    torch.manual_seed(0)\n    eps = torch.randn(x.shape, device=x.device, dtype=x.dtype)\n    return x + sigma * eps"),
                                    fails={"test_add_noise", "test_denoiser_loss"}),
    "b_sample_time_zero_noise": case("part_b", ("x0 = torch.randn((num, *image_shape), generator=generator, device=device)", "x0 = torch.zeros((num, *image_shape), device=device)"),
                                     fails={"test_sample_time_conditional"}),
    # tensors made on the CPU whatever the inputs' device
    "a_forward_cpu_noise": case("part_a", ("        eps = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)",
                                           "        eps = torch.randn(x0.shape, generator=generator, dtype=x0.dtype)"),
                                fails={"test_forward_draws_from_the_generator", "test_sdedit", "test_inpaint", "test_inpaint_keeps_the_original_outside_the_mask"}),
    "a_sample_cpu_start": case("part_a", ("x = torch.randn(tuple(shape), generator=generator, device=device)", "x = torch.randn(tuple(shape), generator=generator)"),
                               fails={"test_sample"}),
    "a_factorized_cpu_zeros": case("part_a", ("strict=True)), torch.zeros_like(x))", "strict=True)), torch.zeros(x.shape))"),
                                   fails={"test_hybrid", "test_factorized_grayscale_and_colour"}),
    "b_euler_cpu_times": case("part_b", ("        t = torch.full((x.shape[0],), i * dt, device=x.device, dtype=x.dtype)", "        t = torch.full((x.shape[0],), i * dt, dtype=x.dtype)"),
                              fails={"test_euler_integrate", "test_sample_time_conditional", "test_sample_class_conditional"}),
    "b_time_unet_cpu_column": case("part_b", ("        t = time_column(t, x.shape[0]).to(x.dtype)\n        return self.trunk(x, scale1=self.fc1_t(t), scale2=self.fc2_t(t))",
                                              "        t = time_column(t, x.shape[0]).to(x.dtype) + torch.zeros(x.shape[0], 1)\n"
                                              "        return self.trunk(x, scale1=self.fc1_t(t), scale2=self.fc2_t(t))"),
                                   fails={"test_time_conditional_unet"}),
    "b_class_velocity_cpu_null": case("part_b", ("    null = torch.zeros_like(c)", "    null = torch.zeros(c.shape)"),
                                      fails={"test_class_velocity", "test_sample_class_conditional"}),
    "b_dropout_cpu_draw": case("part_b", ("    keep = torch.rand(labels.shape[0], generator=generator, device=labels.device) >= p_uncond",
                                          "    keep = torch.rand(labels.shape[0], generator=generator) >= p_uncond"),
                               fails={"test_one_hot_with_dropout"}),
    # guided variance values from the wrong branch
    "a_guided_unconditional_variance": case("part_a", ("variance = None if pred.variance is None else pred.variance[:b]", "variance = None if pred.variance is None else pred.variance[b:]"),
                                            fails={"test_guided_prediction", "test_anagram"}),
    "a_guided_guides_the_variance": case("part_a", ("variance = None if pred.variance is None else pred.variance[:b]",
                                                    "variance = None if pred.variance is None else classifier_free_guidance(*pred.variance.chunk(2), scale)"),
                                         fails={"test_guided_prediction", "test_anagram"}),
    # the write-up's step (1.4)
    "a_writeup_no_sqrt": case("part_a", ("x_prev = abar_prev.sqrt() * x0_hat + (1 - abar_prev).sqrt() * pred.eps", "x_prev = abar_prev * x0_hat + (1 - abar_prev) * pred.eps"),
                              fails=A_LOOPS),
    "a_writeup_swapped": case("part_a", ("x_prev = abar_prev.sqrt() * x0_hat + (1 - abar_prev).sqrt() * pred.eps", "x_prev = abar_prev.sqrt() * pred.eps + (1 - abar_prev).sqrt() * x0_hat"),
                              fails=A_LOOPS | {"test_sample_draws_digits_with_the_shipped_model"}),
    "a_writeup_weights_of_t": case("part_a", ("x_prev = abar_prev.sqrt() * x0_hat + (1 - abar_prev).sqrt() * pred.eps", "x_prev = abar_t.sqrt() * x0_hat + (1 - abar_t).sqrt() * pred.eps"),
                                   fails=A_LOOPS | {"test_sample_draws_digits_with_the_shipped_model"}),
    "a_writeup_from_x_t": case("part_a", ("x_prev = abar_prev.sqrt() * x0_hat + (1 - abar_prev).sqrt() * pred.eps", "x_prev = abar_prev.sqrt() * x_t + (1 - abar_prev).sqrt() * pred.eps"),
                               fails=A_LOOPS | {"test_sample_draws_digits_with_the_shipped_model"}),
    "a_writeup_sigma_unscaled": case("part_a", ("return x_prev + sigma * z", "return x_prev + z"),
                                     fails={"test_writeup_step_adds_sigma_z"}),
    "a_writeup_sigma_squared": case("part_a", ("return x_prev + sigma * z", "return x_prev + sigma**2 * z"),
                                    fails={"test_writeup_step_adds_sigma_z"}),
    "a_writeup_unseeded_noise": case("part_a", ("z = torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype)",
                                                "z = torch.randn(x_t.shape, device=x_t.device, dtype=x_t.dtype)"),
                                     fails={"test_writeup_step_adds_sigma_z"}),
    # a step by the other rule: it loses the step's checks and nothing else, with a hint naming the rule
    "a_writeup_course_ddpm_step": case("part_a", ("    x_prev = abar_prev.sqrt() * x0_hat + (1 - abar_prev).sqrt() * pred.eps\n    if sigma == 0:\n        return x_prev\n",
                                                  "    alpha = abar_t.to(x_t.dtype) / abar_prev\n    beta = 1 - alpha\n"
                                                  "    mean = abar_prev.sqrt() * beta / (1 - abar_t) * x0_hat + alpha.sqrt() * (1 - abar_prev) / (1 - abar_t) * x_t\n"
                                                  "    variance = (1 - abar_prev) / (1 - abar_t) * beta\n"
                                                  "    z = torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype)\n"
                                                  "    return mean + variance.clamp(min=1e-20).sqrt() * z\n"),
                                       fails=STEP["writeup"]),
    "a_ddpm_course_writeup_step": case("part_a", ("return mean + (0.5 * log_var).exp() * z", "return abar_prev.sqrt() * x0_hat + (1 - abar_prev).sqrt() * pred.eps"),
                                       fails=STEP["ddpm"], rule="ddpm"),
}  # fmt: skip

CORRECT: dict[str, Case] = {
    "a_writeup_inline": case("part_a", ("    x0_hat = estimate_x0(x_t, pred.eps, abar_t)\n    x_prev = abar_prev.sqrt() * x0_hat + (1 - abar_prev).sqrt() * pred.eps\n",
                                        "    x_prev = abar_prev.sqrt() * (x_t - (1 - abar_t).sqrt() * pred.eps) / abar_t.sqrt() + (1 - abar_prev).sqrt() * pred.eps\n")),
    "a_writeup_math_floats": case("part_a", ("    x_prev = abar_prev.sqrt() * x0_hat + (1 - abar_prev).sqrt() * pred.eps\n",
                                             "    a = float(alphas_cumprod[t_prev])\n    x_prev = math.sqrt(a) * x0_hat + math.sqrt(1 - a) * pred.eps\n")),
    "a_writeup_draws_even_at_sigma_zero": case("part_a", ("    if sigma == 0:\n        return x_prev\n", "")),
    "a_forward_other_order": case("part_a", ("return abar.sqrt() * x0 + (1 - abar).sqrt() * eps", "return eps * torch.sqrt(1 - abar) + x0 * torch.sqrt(abar)")),
    "a_estimate_x0_float64": case("part_a", ("return (x_t - (1 - abar_t).sqrt() * eps) / abar_t.sqrt()",
                                             "a = abar_t.double()\n    return ((x_t.double() - (1 - a).sqrt() * eps.double()) / a.sqrt()).to(x_t.dtype)")),
    "a_cfg_written_out": case("part_a", ("return torch.lerp(uncond, cond, scale)", "return (1 - scale) * uncond + scale * cond")),
    "a_iterative_while_loop": case("part_a", ("    x = x_t\n    for i in tqdm(\n        range(i_start, len(timesteps) - 1), desc=\"denoising\", disable=not progress, leave=False\n    ):\n        t, t_prev",
                                              "    x, i = x_t, i_start - 1\n    while i + 1 < len(timesteps) - 1:\n        i += 1\n        t, t_prev")),
    "a_guided_two_calls": case("part_a", ("    b = x_t.shape[0]\n    both = torch.cat([broadcast_batch(cond, b), broadcast_batch(uncond, b)])  # (2B, ...)\n    pred = backend.predict(torch.cat([x_t, x_t]), t, both)\n    eps_c, eps_u = pred.eps.chunk(2)\n    variance = None if pred.variance is None else pred.variance[:b]",
                                          "    pred = backend.predict(x_t, t, cond)\n    eps_c, eps_u = pred.eps, backend.predict(x_t, t, uncond).eps\n    variance = pred.variance")),
    "a_inpaint_where": case("part_a", ("x = mask * x + (1 - mask) * known", "x = torch.where(mask.bool(), x, known)")),
    "a_anagram_running_sum": case("part_a", ("return Prediction(torch.stack(eps).mean(0), mean_variance(var))", "return Prediction(sum(eps) / len(eps), mean_variance(var))")),
    "b_blocks_as_modules": case("part_b", ("        super().__init__(Conv(in_channels, out_channels), Conv(out_channels, out_channels))",
                                           "        super().__init__()\n        self.first = Conv(in_channels, out_channels)\n        self.second = Conv(out_channels, out_channels)\n\n"
                                           "    def forward(self, x):\n        return self.second(self.first(x))"),
                                ("class ConvBlock(nn.Sequential):", "class ConvBlock(nn.Module):")),
    "b_interpolate_view": case("part_b", ("t = t.reshape(-1, *([1] * (x1.ndim - 1))).to(x1.dtype)  # (B, 1, 1, 1)", "t = t.view(-1, 1, 1, 1)")),
    "b_euler_linspace": case("part_b", ("    for i in tqdm(range(steps), desc=\"sampling (Euler)\", disable=not progress, leave=False):\n        t = torch.full((x.shape[0],), i * dt, device=x.device, dtype=x.dtype)\n",
                                        "    for t0 in torch.linspace(0, 1, steps + 1)[:-1].tolist():\n        t = torch.full((x.shape[0],), t0, device=x.device, dtype=x.dtype)\n")),
    "b_flow_loss_by_hand": case("part_b", ("return F.mse_loss(velocity(x_t, t), target_velocity(x0, x1))", "return ((velocity(x_t, t) - (x1 - x0)) ** 2).mean()")),
    "b_dropout_bernoulli": case("part_b", ("keep = torch.rand(labels.shape[0], generator=generator, device=labels.device) >= p_uncond",
                                           "keep = torch.bernoulli(torch.full((labels.shape[0],), 1 - p_uncond, device=labels.device), generator=generator).bool()")),
    "b_add_noise_float64": case("part_b", ("    return x + sigma * eps\n", "    return (x.double() + sigma * eps.double()).float()\n")),
    # Part A, written otherwise
    "a_forward_math_and_randn_like": case("part_a", ("    abar = alphas_cumprod[check_timestep(t, alphas_cumprod)].to(x0.dtype)\n    if eps is None:\n"
                                                     "        eps = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)\n"
                                                     "    return abar.sqrt() * x0 + (1 - abar).sqrt() * eps",
                                                     "    abar = float(alphas_cumprod[check_timestep(t, alphas_cumprod)])\n    if eps is None:\n"
                                                     "        eps = torch.randn_like(x0, generator=generator)\n    return math.sqrt(abar) * x0 + math.sqrt(1 - abar) * eps")),
    "a_forward_noise_per_image_last_first": case("part_a", ("        eps = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)",
                                                            "        eps = torch.stack([torch.randn(x0.shape[1:], generator=generator, device=x0.device, dtype=x0.dtype)\n"
                                                            "                           for _ in range(x0.shape[0])][::-1])")),
    "a_estimate_x0_math": case("part_a", ("    abar_t = abar_t.to(x_t.dtype)\n    return (x_t - (1 - abar_t).sqrt() * eps) / abar_t.sqrt()",
                                          "    a = float(abar_t)\n    return (x_t - math.sqrt(1 - a) * eps) / math.sqrt(a)")),
    "a_posterior_mean_addcmul": case("part_a", ("    alpha = abar_t / abar_prev\n    beta = 1 - alpha\n    return (abar_prev.sqrt() * beta / (1 - abar_t)) * x0_hat + (\n"
                                                "        alpha.sqrt() * (1 - abar_prev) / (1 - abar_t)\n    ) * x_t",
                                                "    beta = (abar_prev - abar_t) / abar_prev\n    on_x0 = abar_prev.sqrt() * beta / (1 - abar_t)\n"
                                                "    on_xt = (abar_t / abar_prev).sqrt() * (1 - abar_prev) / (1 - abar_t)\n"
                                                "    return torch.addcmul(on_xt * x_t, on_x0.expand_as(x0_hat), x0_hat)"), rule="ddpm"),
    "a_log_variance_float64": case("part_a", ("    beta = 1 - abar_t / abar_prev\n    return ((1 - abar_prev) / (1 - abar_t) * beta).clamp(min=MIN_VARIANCE).log()",
                                              "    a, ap = abar_t.double(), abar_prev.double()\n    tilde = (1 - ap) / (1 - a) * (1 - a / ap)\n"
                                              "    return torch.log(torch.clamp(tilde, min=MIN_VARIANCE)).to(abar_t.dtype)"), rule="ddpm"),
    "a_ddpm_float64_noise": case("part_a", ("    z = torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype)\n    return mean + (0.5 * log_var).exp() * z",
                                            "    z = torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=torch.float64)\n"
                                            "    return (mean.double() + (0.5 * log_var.double()).exp() * z).to(x_t.dtype)"), rule="ddpm"),
    "a_iterative_noise_of_the_last_step_first": case("part_a", (
        "    x = x_t\n    for i in tqdm(\n        range(i_start, len(timesteps) - 1), desc=\"denoising\", disable=not progress, leave=False\n    ):\n"
        "        t, t_prev = timesteps[i], timesteps[i + 1]\n        x = denoise_step(x, predictor(x, t), t, t_prev, alphas_cumprod, variance_type, generator)\n",
        "    steps = range(i_start, len(timesteps) - 1)\n"
        "    noise = [torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype) for _ in steps]\n"
        "    x = x_t\n    for i, z in zip(steps, reversed(noise)):\n        t, t_prev = timesteps[i], timesteps[i + 1]\n"
        "        abar_t, abar_prev = alphas_cumprod[t], alphas_cumprod[t_prev]\n        pred = predictor(x, t)\n"
        "        mean = posterior_mean(x, estimate_x0(x, pred.eps, abar_t), abar_t, abar_prev)\n"
        "        if variance_type == \"learned_range\":\n            log_var = learned_range_log_variance(pred.variance, abar_t, abar_prev)\n"
        "        else:\n            log_var = posterior_log_variance(abar_t, abar_prev).to(x.dtype)\n"
        "        x = mean + (0.5 * log_var).exp() * z\n"), rule="ddpm"),
    "a_sample_float64_start": case("part_a", ("x = torch.randn(tuple(shape), generator=generator, device=device)",
                                              "x = torch.randn(tuple(shape), generator=generator, device=device, dtype=torch.float64).float()")),
    "a_cfg_add_alpha": case("part_a", ("return torch.lerp(uncond, cond, scale)", "return torch.add(uncond, cond - uncond, alpha=scale)")),
    "a_inpaint_in_place_on_its_own_tensor": case("part_a", ("x = mask * x + (1 - mask) * known", "x.mul_(mask).add_((1 - mask) * known)")),
    "a_anagram_einsum": case("part_a", ("return Prediction(torch.stack(eps).mean(0), mean_variance(var))",
                                        "return Prediction(torch.einsum(\"k...->...\", torch.stack(eps)) / len(eps), mean_variance(var))")),
    "a_hybrid_own_blur": case("part_a", ("    low, high = frequency_split(backend.image_shape[-1])\n    return factorized(backend, [cond_low, cond_high], [low, high], uncond, scale)",
                                         "    size = backend.image_shape[-1]\n    sigma, k = 2.0 * size / 64, max(3, round(33 * size / 64) | 1)\n"
                                         "    offsets = torch.arange(k, dtype=torch.float64) - k // 2\n    weights = torch.exp(-0.5 * (offsets / sigma) ** 2)\n"
                                         "    weights = (weights / weights.sum()).float()\n\n    def low(x):\n        w, c, pad = weights.to(x.device, x.dtype), x.shape[1], k // 2\n"
                                         "        y = torch.nn.functional.pad(x, (pad, pad, pad, pad), mode=\"reflect\")\n"
                                         "        y = torch.nn.functional.conv2d(y, w.view(1, 1, 1, k).expand(c, 1, 1, k), groups=c)\n"
                                         "        return torch.nn.functional.conv2d(y, w.view(1, 1, k, 1).expand(c, 1, k, 1), groups=c)\n\n"
                                         "    return factorized(backend, [cond_low, cond_high], [low, lambda x: x - low(x)], uncond, scale)")),
    # Part B, written otherwise
    "b_add_noise_randn_like": case("part_b", ("    eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)\n    return x + sigma * eps",
                                              "    return x + sigma * torch.randn_like(x, generator=generator)")),
    "b_add_noise_per_image_last_first": case("part_b", ("    eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)\n    return x + sigma * eps",
                                                        "    eps = torch.stack([torch.randn(x.shape[1:], generator=generator, device=x.device, dtype=x.dtype)\n"
                                                        "                       for _ in range(x.shape[0])][::-1])\n    return x + sigma * eps")),
    "b_pure_noise_float64_draw": case("part_b", ("    eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)\n    return F.mse_loss(model(eps), x)",
                                                 "    eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=torch.float64).to(x.dtype)\n"
                                                 "    return F.mse_loss(model(eps), x)")),
    "b_euler_accumulated_time": case("part_b", ("    for i in tqdm(range(steps), desc=\"sampling (Euler)\", disable=not progress, leave=False):\n"
                                                "        t = torch.full((x.shape[0],), i * dt, device=x.device, dtype=x.dtype)\n        x = x + dt * velocity(x, t)",
                                                "    t = torch.zeros(x.shape[0], device=x.device, dtype=x.dtype)\n    for _ in range(steps):\n"
                                                "        x = x + velocity(x, t) / steps\n        t = t + dt")),
    "b_sample_time_noise_per_image_last_first": case("part_b", ("x0 = torch.randn((num, *image_shape), generator=generator, device=device)",
                                                                "x0 = torch.cat([torch.randn((1, *image_shape), generator=generator, device=device) for _ in range(num)][::-1])")),
    "b_dropout_where": case("part_b", ("    return c * keep[:, None]", "    return torch.where(keep[:, None], c, torch.zeros_like(c))")),
    "b_class_velocity_one_batch": case("part_b", ("        return classifier_free_guidance(model(x, t, c), model(x, t, null), guidance)",
                                                  "        cond, uncond = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([c, null])).chunk(2)\n"
                                                  "        return classifier_free_guidance(cond, uncond, guidance)")),
    "b_interpolate_lerp": case("part_b", ("    t = t.reshape(-1, *([1] * (x1.ndim - 1))).to(x1.dtype)  # (B, 1, 1, 1)\n    return (1 - t) * x0 + t * x1",
                                          "    return torch.lerp(x0, x1, t.view(-1, 1, 1, 1).to(x1.dtype))")),
    "b_time_unet_expand": case("part_b", ("        t = time_column(t, x.shape[0]).to(x.dtype)\n        return self.trunk(x, scale1=self.fc1_t(t), scale2=self.fc2_t(t))",
                                          "        t = torch.as_tensor(t, device=x.device).reshape(-1, 1).expand(x.shape[0], 1).to(x.dtype)\n"
                                          "        return self.trunk(x, scale1=self.fc1_t(t), scale2=self.fc2_t(t))")),
    "b_flow_loss_float64": case("part_b", ("return F.mse_loss(velocity(x_t, t), target_velocity(x0, x1))",
                                           "return ((velocity(x_t, t).double() - target_velocity(x0, x1).double()) ** 2).mean().float()")),
}  # fmt: skip
