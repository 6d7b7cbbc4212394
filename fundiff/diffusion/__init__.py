"""Part A loops, model-agnostic: each is a function of (backend, tensors) -> tensors."""
