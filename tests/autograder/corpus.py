"""Submissions to grade: realistic student bugs, correct code written another way, and hostile code.

Each case edits the graded code of the solution notebook of its part (every
``old`` must occur exactly once, so a case cannot silently stop applying) and
names the checks it must fail; every other check must pass. Hostile cases may
name a file to look for afterwards (``{SUBS}`` is the submissions folder).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# checks that run a whole Part A loop on top of ddpm_step, estimate_x0 or posterior_mean
A_LOOPS = {"test_ddpm_step", "test_iterative_denoise", "test_sample", "test_sdedit", "test_inpaint"}
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


def case(part: str, *edits: tuple[str, str], fails: set[str] | frozenset[str] = frozenset(), prefix: str = "",
         suffix: str = "") -> Case:  # fmt: skip
    return Case(part, tuple(edits), frozenset(fails), prefix, suffix)


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
                                     fails={"test_posterior_mean"} | A_LOOPS),  # the shipped model still draws digits
    "a_posterior_mean_no_sqrt": case("part_a", ("return (abar_prev.sqrt() * beta / (1 - abar_t)) * x0_hat + (", "return (abar_prev * beta / (1 - abar_t)) * x0_hat + ("),
                                     fails={"test_posterior_mean"} | A_LOOPS),
    "a_log_variance_not_log": case("part_a", ("return ((1 - abar_prev) / (1 - abar_t) * beta).clamp(min=MIN_VARIANCE).log()",
                                              "return ((1 - abar_prev) / (1 - abar_t) * beta).clamp(min=MIN_VARIANCE)"),
                                   fails={"test_posterior_log_variance", "test_learned_range_log_variance",
                                          "test_sample_draws_digits_with_the_shipped_model"} | A_LOOPS),
    "a_learned_range_frac": case("part_a", ("    frac = (v + 1) / 2\n", "    frac = v\n"),
                                 fails={"test_learned_range_log_variance", "test_ddpm_step"}),
    "a_ddpm_variance_not_std": case("part_a", ("return mean + (0.5 * log_var).exp() * z", "return mean + log_var.exp() * z"),
                                    fails=A_LOOPS),
    "a_ddpm_unseeded_noise": case("part_a", ("z = torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype)",
                                             "z = torch.randn(x_t.shape, device=x_t.device, dtype=x_t.dtype)"),
                                  fails=A_LOOPS),
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
    "a_guided_prediction_order": case("part_a", ("both = torch.cat([_batch(cond, b), _batch(uncond, b)])", "both = torch.cat([_batch(uncond, b), _batch(cond, b)])"),
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
    "a_anagram_sum": case("part_a", ("return Prediction(torch.stack(eps).mean(0), _mean_variance(var))", "return Prediction(torch.stack(eps).sum(0), _mean_variance(var))"),
                          fails={"test_anagram", "test_anagram_with_a_pixel_permutation"}),
    "a_hybrid_swapped": case("part_a", ("return factorized(backend, [cond_low, cond_high], [low, high], uncond, scale)",
                                        "return factorized(backend, [cond_low, cond_high], [high, low], uncond, scale)"),
                             fails={"test_hybrid"}),
    "a_hybrid_fixed_filter": case("part_a", ("low, high = frequency_split(backend.image_shape[-1])", "low, high = frequency_split(64)"),
                                  fails={"test_hybrid"}),
    "a_factorized_mean": case("part_a", ("return Prediction(eps, _mean_variance([p.variance for p in preds]))", "return Prediction(eps / len(preds), _mean_variance([p.variance for p in preds]))"),
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
    "b_time_not_reshaped": case("part_b", ("        t = _time_column(t, x.shape[0]).to(x.dtype)\n        return self.trunk(x, scale1", "        return self.trunk(x, scale1"),
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
}  # fmt: skip

CORRECT: dict[str, Case] = {
    "a_forward_other_order": case("part_a", ("return abar.sqrt() * x0 + (1 - abar).sqrt() * eps", "return eps * torch.sqrt(1 - abar) + x0 * torch.sqrt(abar)")),
    "a_estimate_x0_float64": case("part_a", ("return (x_t - (1 - abar_t).sqrt() * eps) / abar_t.sqrt()",
                                             "a = abar_t.double()\n    return ((x_t.double() - (1 - a).sqrt() * eps.double()) / a.sqrt()).to(x_t.dtype)")),
    "a_cfg_written_out": case("part_a", ("return torch.lerp(uncond, cond, scale)", "return (1 - scale) * uncond + scale * cond")),
    "a_iterative_while_loop": case("part_a", ("    x = x_t\n    for i in tqdm(\n        range(i_start, len(timesteps) - 1), desc=\"denoising\", disable=not progress, leave=False\n    ):\n        t, t_prev",
                                              "    x, i = x_t, i_start - 1\n    while i + 1 < len(timesteps) - 1:\n        i += 1\n        t, t_prev")),
    "a_guided_two_calls": case("part_a", ("    b = x_t.shape[0]\n    both = torch.cat([_batch(cond, b), _batch(uncond, b)])  # (2B, ...)\n    pred = backend.predict(torch.cat([x_t, x_t]), t, both)\n    eps_c, eps_u = pred.eps.chunk(2)\n    variance = None if pred.variance is None else pred.variance[:b]",
                                          "    pred = backend.predict(x_t, t, cond)\n    eps_c, eps_u = pred.eps, backend.predict(x_t, t, uncond).eps\n    variance = pred.variance")),
    "a_inpaint_where": case("part_a", ("x = mask * x + (1 - mask) * known", "x = torch.where(mask.bool(), x, known)")),
    "a_anagram_running_sum": case("part_a", ("return Prediction(torch.stack(eps).mean(0), _mean_variance(var))", "return Prediction(sum(eps) / len(eps), _mean_variance(var))")),
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
}  # fmt: skip

_STEAL = "\ntry:\n    _SEEN = open({path!r}).read()\nexcept OSError:\n    _SEEN = None\n"
HOSTILE: dict[str, Case] = {
    "h_endless_loop": case("part_b", ("    x = x0\n    dt = 1.0 / steps\n", "    while True:\n        pass\n"),
                           fails={"test_euler_integrate", "test_sample_time_conditional", "test_sample_class_conditional", "test_sampler_draws_digits_with_the_shipped_model"}),
    "h_memory_bomb": case("part_b", ("    return x1 - x0\n", "    hog = torch.ones(2**34)\n    return x1 - x0 + hog[0]\n"), fails={"test_flow_matching_loss"}),
    "h_fork_bomb": case("part_b", ("    return x1 - x0\n", "    import os\n    while True:\n        try:\n            os.fork()\n        except OSError:\n            pass\n"),
                        fails={"test_flow_matching_loss"}),
    "h_os_exit_in_a_call": case("part_b", ("    return (1 - t) * x0 + t * x1", "    import os\n    os._exit(0)"), fails={"test_interpolate", "test_flow_matching_loss"}),
    "h_sys_exit_first": case("part_b", prefix="import sys\nsys.exit(0)\n", fails={"*"}),  # "*": every check
    "h_sys_exit_last": case("part_b", suffix="\nimport sys\nsys.exit(0)\n"),
    "h_segfault": case("part_b", ("    return x1 - x0\n", "    import ctypes\n    ctypes.string_at(0)\n    return x1 - x0\n"), fails={"test_flow_matching_loss"}),
    "h_writes_results": case("part_b", ("    return x1 - x0\n", "    open('{SUBS}/forged.json', 'w').write('{\"score\": 1000}')\n    return x1 - x0\n"),
                             fails={"test_flow_matching_loss"}),  # the folder is out of its reach: the write fails
    "h_patches_allclose": case("part_b", suffix="\nimport torch\ntorch.allclose = lambda *a, **k: True\ntorch.equal = lambda *a, **k: True\n"
                                                    "def interpolate(x0, x1, t):\n    return x0\n", fails={"test_interpolate", "test_flow_matching_loss"}),
    "h_patches_the_checks": case("part_b", suffix="\ntry:\n    import autograder.checks.conftest as c\n    c.expect_close = lambda *a, **k: None\nexcept ImportError:\n    pass\n"
                                                      "def interpolate(x0, x1, t):\n    return x0\n", fails={"test_interpolate", "test_flow_matching_loss"}),
    "h_reads_the_reference": case("part_b", suffix=_STEAL.format(path="{ROOT}/fundiff/flow.py") +
                                  "def interpolate(x0, x1, t):\n    if _SEEN is None:\n        return x0\n    ns = {}\n    exec(_SEEN, ns)\n    return ns['interpolate'](x0, x1, t)\n",
                                  fails={"test_interpolate", "test_flow_matching_loss"}),
    "h_reads_the_checks": case("part_b", suffix=_STEAL.format(path="{ROOT}/autograder/checks/test_part_b.py") +
                               "def interpolate(x0, x1, t):\n    return x0 if _SEEN is None else (1 - t.view(-1, 1, 1, 1)) * x0 + t.view(-1, 1, 1, 1) * x1\n",
                               fails={"test_interpolate", "test_flow_matching_loss"}),
    "h_reads_another_submission": case("part_b", suffix=_STEAL.format(path="{SUBS}/b_add_noise_float64.py") +
                                       "def interpolate(x0, x1, t):\n    return x0 if _SEEN is None else (1 - t.view(-1, 1, 1, 1)) * x0 + t.view(-1, 1, 1, 1) * x1\n",
                                       fails={"test_interpolate", "test_flow_matching_loss"}),
    "h_network": case("part_b", suffix="\nimport socket\ntry:\n    socket.create_connection(('1.1.1.1', 80), timeout=2)\n    _NET = True\nexcept OSError:\n    _NET = False\n"
                                         "def interpolate(x0, x1, t):\n    return x0 if not _NET else (1 - t.view(-1, 1, 1, 1)) * x0 + t.view(-1, 1, 1, 1) * x1\n",
                      fails={"test_interpolate", "test_flow_matching_loss"}),
    "h_huge_stdout": case("part_b", ("    return x1 - x0\n", "    for _ in range(10**6):\n        print('x' * 1000)\n    return x1 - x0\n"), fails={"test_flow_matching_loss"}),
    "h_nan": case("part_b", ("return torch.lerp(uncond, cond, scale)", "return cond * float('nan')"),
                  fails={"test_classifier_free_guidance", "test_class_velocity", "test_sample_class_conditional", "test_sampler_draws_digits_with_the_shipped_model"}),
    "h_wrong_dtype": case("part_b", ("    return (1 - t) * x0 + t * x1", "    return ((1 - t) * x0 + t * x1).half()"), fails={"test_interpolate"}),
    "h_returns_a_lambda": case("part_b", ("    return x1 - x0\n", "    return lambda: x1 - x0\n"), fails={"test_flow_matching_loss"}),
}  # fmt: skip
