"""Part B samplers: Euler integration of a learned flow (``flow``), its fast variant
(``fast``), and digits from the MNIST diffusion backend (``digits``)."""
