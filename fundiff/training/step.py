"""One optimiser step of the Part B trainer, eager or replayed from a CUDA graph.

A step gathers a batch from the resident training images, computes the task's
loss (under bfloat16 autocast on the fast path), back-propagates and updates the
weights. Eagerly, Python issues a few hundred small kernels per step, and at the
write-up's batch of 64 the GPU waits on Python: the step takes as long as the
host needs to launch it. ``GraphedStep`` records the whole step once as a CUDA
graph and then replays it with one call, so the step takes as long as the GPU
needs to run it. Replays read the batch's indices from a fixed tensor, draw their
noise from the run's generator (registered with the graph, so every replay
draws new numbers and a seeded run repeats), and update the weights in place.

The learning rate is a constant of a captured step, so the graph is captured
again whenever it changes (once per epoch under the exponential schedule); Adam
must be ``capturable`` (its step count lives on the GPU).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""(images (B, 1, 28, 28) in [0, 1], labels (B,)) -> scalar loss; draws its noise itself."""


def gather(images: torch.Tensor, labels: torch.Tensor, idx: torch.Tensor,
           layout: torch.memory_format = torch.contiguous_format) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """One batch from the resident training set.

    Args:
        images: the training images, uint8, shape (N, 28, 28).
        labels: their labels, shape (N,).
        idx: the batch's indices, shape (B,).
        layout: memory format of the returned images.

    Returns:
        Images in [0, 1], shape (B, 1, 28, 28), and their labels, shape (B,).
    """
    x = images[idx].unsqueeze(1).float() / 255
    return x.contiguous(memory_format=layout), labels[idx]


def eager_step(loss_of: Loss, optimizer: torch.optim.Optimizer, x: torch.Tensor,
               labels: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """One step run op by op.

    Args:
        loss_of: the batch's loss.
        optimizer: updates the weights from their gradients.
        x: images in [0, 1], shape (B, 1, 28, 28).
        labels: digit labels, shape (B,).

    Returns:
        The loss, a detached scalar.
    """
    loss = loss_of(x, labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


class GraphedStep:
    """A full step (gather, loss, backward, Adam) captured as a CUDA graph for one batch size.

    Args:
        loss_of: the batch's loss; it may draw from ``generator`` only.
        optimizer: a ``capturable`` optimiser of the model's parameters.
        images: the resident training images, uint8, shape (N, 28, 28), on the GPU.
        labels: their labels, shape (N,), on the GPU.
        batch: the batch size every replay uses.
        generator: the run's CUDA generator, registered with each capture.
        layout: memory format of the batch (channels_last on the fast path).
    """

    def __init__(self, loss_of: Loss, optimizer: torch.optim.Optimizer, images: torch.Tensor,
                 labels: torch.Tensor, batch: int, generator: torch.Generator,
                 layout: torch.memory_format = torch.contiguous_format) -> None:  # fmt: skip
        self.loss_of, self.optimizer = loss_of, optimizer
        self.images, self.labels = images, labels
        self.generator, self.layout = generator, layout
        self.index = torch.zeros(batch, dtype=torch.long, device=images.device)
        self.graph: torch.cuda.CUDAGraph | None = None
        self.pool: object | None = None
        self.loss: torch.Tensor | None = None

    def _body(self) -> torch.Tensor:
        return eager_step(
            self.loss_of, self.optimizer, *gather(self.images, self.labels, self.index, self.layout)
        )

    def warm_up(self, idx: torch.Tensor) -> torch.Tensor:
        """Run one real step eagerly on a side stream, as capture requires (libraries and state set up).

        Args:
            idx: the batch's indices into the images, shape (batch,).

        Returns:
            Its loss, a detached scalar.
        """
        device = self.index.device
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            self.index.copy_(idx)
            loss = self._body()
        torch.cuda.current_stream(device).wait_stream(side)
        return loss

    def capture(self) -> None:
        """Record the step with the optimiser's current learning rate (again after it changes)."""
        # the last capture's outputs go back to the pool, which the new capture shares; the last
        # graph is dropped only after it, so that the pool stays in use (and is never replayed again)
        last, self.loss = self.graph, None
        self.optimizer.zero_grad(set_to_none=True)
        graph = torch.cuda.CUDAGraph()
        graph.register_generator_state(self.generator)
        with torch.cuda.graph(graph, pool=self.pool):
            self.loss = self._body()
        self.graph, self.pool = graph, graph.pool()
        del last

    def __call__(self, idx: torch.Tensor) -> torch.Tensor:
        """Replay the step on the batch ``idx`` (batch,); returns its loss, a detached scalar."""
        if self.graph is None or self.loss is None:
            raise RuntimeError("capture the step before replaying it")
        self.index.copy_(idx)
        self.graph.replay()
        return self.loss.clone()
