"""Start small and get bigger (progressive resizing): train the first epochs on smaller images, the same model
continuing at larger sizes, and finish at the data's own size.

``TrainConfig.size_schedule`` is a list of ``[first_epoch, size]`` pairs, e.g. ``[[0, 64], [2, 128], [4, 224]]``:
epochs 0-1 at 64 px, 2-3 at 128 px, 4 on at 224 px. The last size must be the data's image size (the model's input
size), so the run ends on the images it will be used on. Each smaller size is made once for the whole training split
(antialiased bilinear resize, kept as uint8 in memory) and reused by every epoch at that size; augmentation is
fitted to that size (a 224 px crop becomes a 64 px crop) and drawn fresh each epoch as usual. Validation always
runs at the final size, so the validation curve and the best checkpoint speak for the model as it will be used.
The model must accept any input size (convolutions ending in an adaptive pooling: the lab's CNNs and ResNets);
one that does not is refused with the reason before the first epoch. ``input_size`` is recorded with each epoch's
metrics, so the charts mark where the size changed.

>>> size_for_epoch([[0, 16], [2, 24], [4, 32]], 3)
24
"""
from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from core.train.sizes import final_size_problems, schedule_problems, size_for_epoch  # noqa: F401 - the rules


def resize_batch(x: torch.Tensor, size: int) -> torch.Tensor:
    """(B, C, H, W) floats -> (B, C, size, size), antialiased bilinear (like torchvision's Resize on tensors)."""
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


class ResizedImages(Dataset):
    """A split's images resized once to ``size`` (uint8 in memory), then its own ``transform`` per read.

    Yields ``(x, y)`` like the image datasets: x float32 (C, size, size) in [0, 1].
    """

    def __init__(self, dataset: Dataset, size: int, batch: int = 256):
        self.size, self.transform = size, None
        self.targets = getattr(dataset, "targets", None)
        before, dataset.transform = getattr(dataset, "transform", None), None  # resize the images, not a draw
        try:
            xs, ys = [], []
            for start in range(0, len(dataset), batch):
                items = [dataset[i] for i in range(start, min(start + batch, len(dataset)))]
                x = torch.stack([it[0] for it in items])  # (B, C, H, W)
                xs.append((resize_batch(x, size).clamp(0, 1) * 255).round().to(torch.uint8))
                ys += [int(it[1]) for it in items]
        finally:
            dataset.transform = before
        self.images, self.labels = torch.cat(xs), ys

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        x = self.images[i].float() / 255.0
        return (self.transform(x) if self.transform is not None else x), self.labels[i]


class ProgressiveResizing:
    """Callback: swaps the training loader for the epoch's input size (made once per size, kept for the run);
    records ``input_size`` with each epoch's metrics."""

    order = -5  # before the metrics recorder writes the epoch

    def __init__(self, schedule, bundle):
        self.schedule = [[int(e), int(s)] for e, s in schedule]
        self.bundle, self.size, self.splits, self.full = bundle, None, {}, None

    def before_fit(self, loop) -> None:
        c, final = self.bundle.input_shape[0], self.bundle.input_shape[-1]
        problems = schedule_problems(self.schedule, loop.config.epochs, final, self.bundle.kind)
        if problems:
            raise ValueError("; ".join(problems))
        _check_any_size(loop.model, c, self.schedule[0][1], loop.device)
        self.full = (loop.train_dl, loop.sampler)

    def before_epoch(self, loop) -> None:
        size = size_for_epoch(self.schedule, loop.epoch)
        if size == self.size:
            return
        self.size = size
        if size == self.bundle.input_shape[-1]:
            loop.train_dl, loop.sampler = self.full  # the data's own size: the run's own loader, as without a schedule
        else:
            loop.train_dl, loop.sampler = self._loader(loop, size)
        if loop.sampler is not None:
            loop.sampler.set_epoch(loop.epoch)
        loop.notices.append(f"epoch {loop.epoch + 1}: training at {size} x {size} px")

    def after_epoch(self, loop) -> None:
        loop.metrics["input_size"] = float(self.size)
        loop.history[-1]["input_size"] = float(self.size)

    def _loader(self, loop, size: int):
        from core.train.data import augmentation, make_loaders

        if size not in self.splits:
            start = time.perf_counter()
            self.splits[size] = ResizedImages(self.bundle.splits["train"], size)
            loop.notices.append(f"resized the {len(self.splits[size])} training images to {size} px once, in "
                                f"{time.perf_counter() - start:.1f} s (reused by every epoch at that size)")
        train = self.splits[size]
        shape = (self.bundle.input_shape[0], size, size)
        train.transform, _, _ = augmentation(loop.config, "image", False, None, shape)
        train_dl, _, sampler = make_loaders(loop.config, train, train, self.bundle.collate_fn, loop.device,
                                            loop.info.world, loop.info.rank)
        return train_dl, sampler


def _check_any_size(model, channels: int, size: int, device) -> None:
    """Refuse, with the reason, a model that cannot take ``size`` px inputs (e.g. an MLP with a fixed input)."""
    from core.models import unwrap

    net = unwrap(model)
    was = net.training
    net.eval()
    try:
        with torch.no_grad():
            net(torch.zeros(2, channels, size, size, device=device))
    except RuntimeError as err:
        raise ValueError(f"this model cannot take {size} x {size} px inputs, so it cannot start small (it needs "
                         f"convolutions ending in an adaptive pooling, like the CNN or ResNet models): {err}") from None
    finally:
        net.train(was)
