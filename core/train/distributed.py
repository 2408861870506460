"""DistributedDataParallel plumbing: under ``torchrun`` (WORLD_SIZE > 1) every process trains a shard; rank 0
writes the run. Gloo on the CPU, NCCL on GPUs."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from core.device import pick_device


@dataclass
class DistInfo:
    rank: int = 0  # this process' global rank
    world: int = 1  # number of processes
    device: torch.device = torch.device("cpu")  # this process' device
    owns_group: bool = False  # True when we initialised the process group (and so must destroy it)

    @property
    def main(self) -> bool:
        """Rank 0: the process that writes the run store, checkpoints and TensorBoard."""
        return self.rank == 0


def setup(device_preference: str = "auto") -> DistInfo:
    """Join the process group when launched with WORLD_SIZE > 1; pick this process' device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(device=pick_device(device_preference))
    device = pick_device(device_preference)
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return DistInfo(rank=dist.get_rank(), world=dist.get_world_size(), device=device, owns_group=owns)


def teardown(info: DistInfo) -> None:
    """Leave the process group if we created it.

    The DDP model must be gone first: the loop and its callbacks reference each other, so the model can outlive
    ``_train`` in a reference cycle, and a Reducer freed after its gloo group deadlocks (cf. pytorch#56297).
    """
    if info.owns_group and dist.is_initialized():
        import gc

        gc.collect()
        dist.destroy_process_group()


def sum_across(values: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum a tensor over all processes (identity for one process)."""
    if info.world > 1:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def broadcast_object(obj, info: DistInfo):
    """Rank 0's ``obj`` on every process."""
    if info.world <= 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]
