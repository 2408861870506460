"""From a DataBundle and a model to train / val DataLoaders: cached spectrogram features, augmentation, DDP sampler."""
from __future__ import annotations

import time

import torch
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from core.models import CachedFeatures, spec, unwrap
from core.models.features import BackboneFeatures


def augmentation(config, kind: str, spectrogram: bool, generator: torch.Generator | None = None,
                 input_shape=None):
    """The train-split transform: the config's pipeline, else core.augment's preset for the kind, else None.

    Returns ``(callable or None, target, notes)`` where target is 'sample' (the Dataset's raw sample) or 'features'
    (cached log-mel features of spectrogram models), and notes say how an image pipeline was fitted to the data's
    ``input_shape`` (``core.augment.sizing.fit_to_input``: a 224 px crop on 32 px data becomes a 32 px crop). The
    transform draws from ``generator`` when given, else from torch's global generator (a training worker's, seeded
    by ``fit``, with DataLoader workers seeded from it).
    """
    from core.augment import Pipeline, preset
    from core.train.checks import augment_problems

    problems = augment_problems(config, kind, spectrogram)  # the same check the launch form runs
    if problems:
        raise ValueError("; ".join(problems))
    if config.augment:
        pipe = Pipeline.from_dict(config.augment)
    elif config.augment_preset:
        pipe = preset("spectrogram" if spectrogram else kind, config.data)
    else:
        pipe = None
    if pipe is None or not pipe.steps:
        return None, "sample", []
    notes = []
    if pipe.kind == "image" and input_shape is not None:
        from core.augment.sizing import fit_to_input

        pipe, notes = fit_to_input(pipe, input_shape)
        if not pipe.steps:  # it was only a Normalize
            return None, "sample", notes
    transform = pipe.build() if generator is None else pipe.drawing_from(generator)
    return transform, ("features" if pipe.kind == "spectrogram" else "sample"), notes


def backbone_cache_blockers(config, model, augmented: bool) -> list[str]:
    """Why a transfer model's backbone features cannot be computed once and reused (empty: they can).

    They can when the backbone never changes and sees each image the same way every epoch: frozen for the whole run,
    its batch-norm layers frozen too, no augmentation and no mixup.
    """
    if getattr(unwrap(model), "input_features", None) != "backbone":  # transfer models: features() + a head
        return ["the model has no separate backbone"]
    why = []
    if not config.cache_features:
        why.append("feature caching is turned off")
    if config.freeze_epochs < config.epochs:
        why.append("the backbone is unfrozen for some epochs")
    if config.train_bn:
        why.append("the backbone's batch-norm layers keep training")
    if augmented:
        why.append("augmentation changes the images every epoch")
    if config.mixup_alpha > 0:
        why.append("mixup blends images")
    if getattr(config, "adversarial", None):
        why.append("adversarial training perturbs the images")
    return why


def feature_cache_plan(config, kind: str) -> list[str] | None:
    """Before launch: None when ``config.model`` has no separate backbone, else why its backbone features will not
    be cached (an empty list: they will be, computed once per image)."""
    if spec(config.model).input_features != "backbone":
        return None
    build = spec(config.model).build
    transform, _, _ = augmentation(config, kind, spectrogram=False)
    return backbone_cache_blockers(config, build, transform is not None)


def prepare_splits(config, bundle, model, generator: torch.Generator | None = None,
                   device: torch.device | str = "cpu", with_val: bool = True,
                   progress=None) -> tuple[Dataset, Dataset, list[str]]:
    """Train and val datasets ready for the model and notices. ``generator``: where the augmentation draws come
    from (see ``augmentation``). Features are cached for spectrogram models, and for a transfer model whose
    backbone stays frozen (``backbone_cache_blockers``): it then runs once per image on ``device`` (the val split
    too unless ``with_val`` is False), and the head trains on the cached features; ``progress(done, total, text)``
    follows that phase (images through the backbone, with the time left: ``core.train.pace.caching_text``)."""
    train, val = bundle.splits["train"], bundle.splits["val"]
    spectrogram = spec(config.model).input_features == "logmel"
    shape = getattr(bundle, "input_shape", None)
    transform, target, notices = augmentation(config, bundle.kind, spectrogram, generator, shape)
    train.transform = transform if target == "sample" else None
    if not spectrogram and not backbone_cache_blockers(config, model, transform is not None):
        train, val, note = _cache_backbone(config, model, train, val if with_val else None, device, progress)
        return train, val, [note]
    if spectrogram:
        frontend = unwrap(model).frontend
        val = CachedFeatures(val, frontend)
        if getattr(config, "adversarial", None):  # attacks perturb waveforms: the front end runs per batch
            if target == "features":
                notices.append("adversarial training perturbs waveforms, so the spectrogram augmentation (applied to "
                               "cached features) is not used; a waveform pipeline would be")
            notices.append("adversarial training with a spectrogram model: training features are computed from "
                           "the attacked waveforms on every batch (not cached)")
        elif target == "sample" and transform is not None:  # waveform augmentation: features must be recomputed
            notices.append("waveform augmentation with a spectrogram model: train features are recomputed every "
                           "epoch (use a spectrogram pipeline to keep them cached)")
            train = _OnTheFly(train, frontend)
        else:
            train = CachedFeatures(train, frontend, transform=transform)
    return train, val, notices


def _cache_backbone(config, model, train: Dataset, val: Dataset | None, device,
                    progress=None) -> tuple[Dataset, Dataset, str]:
    """The splits as cached backbone features, and the note that says so (with the time saved, estimated)."""
    from core.train.pace import caching_text

    start = time.perf_counter()
    total = len(train) + (len(val) if val is not None else 0)

    def follow(before: int):
        if progress is None:
            return None
        return lambda done, _: progress(before + done, total,
                                        caching_text(before + done, total, time.perf_counter() - start))

    frontend = BackboneFeatures(unwrap(model))
    if progress is not None:
        progress(0, total, caching_text(0, total, 0.0))
    train = CachedFeatures(train, frontend).fill(config.batch_size * 2, device, follow(0))
    if val is not None:
        val = CachedFeatures(val, frontend).fill(config.batch_size * 2, device, follow(len(train)))
    seconds, n_val = time.perf_counter() - start, len(val) if val is not None else 0
    later = max(config.epochs - 1, 0)  # every later epoch would have run the frozen backbone over both splits again
    note = (f"features cached: {len(train) + n_val} images ({len(train)} train, {n_val} val) went through the "
            f"frozen backbone once, in {seconds:.1f} s; the head trains on them"
            + (f", so the {later} later epoch(s) skip the backbone (about {seconds * later:.0f} s saved)"
               if later else ""))
    return train, val, note


class _OnTheFly(Dataset):
    """Features computed on every read (only when waveform augmentation makes caching wrong)."""

    def __init__(self, dataset, frontend):
        self.dataset, self.targets = dataset, getattr(dataset, "targets", None)
        self.features = CachedFeatures(dataset, frontend)

    def __len__(self):
        return len(self.dataset)

    @torch.no_grad()
    def __getitem__(self, i):
        wave, y = self.dataset[i]
        return self.features.frontend(wave.unsqueeze(0))[0], y


def make_loaders(config, train: Dataset, val: Dataset, collate_fn, device: torch.device, world: int = 1,
                 rank: int = 0) -> tuple[DataLoader, DataLoader, DistributedSampler | None]:
    """DataLoaders (a DistributedSampler per process under DDP). The last train batch is dropped only when it
    would hold a single sample (batch-norm cannot train on one)."""
    pin = device.type == "cuda"
    sampler = None
    if world > 1:
        sampler = DistributedSampler(train, num_replicas=world, rank=rank, shuffle=True, seed=config.seed)
        val_sampler = DistributedSampler(val, num_replicas=world, rank=rank, shuffle=False)
    else:
        val_sampler = None
    n_local = len(train) // world
    generator = torch.Generator().manual_seed(config.seed)
    train_dl = DataLoader(train, batch_size=config.batch_size, shuffle=sampler is None, sampler=sampler,
                          collate_fn=collate_fn, num_workers=config.num_workers, pin_memory=pin,
                          drop_last=n_local % config.batch_size == 1, generator=generator,
                          persistent_workers=config.num_workers > 0)
    val_dl = DataLoader(val, batch_size=config.batch_size * 2, shuffle=False, sampler=val_sampler,
                        collate_fn=collate_fn, num_workers=config.num_workers, pin_memory=pin)
    return train_dl, val_dl, sampler



def training_example(bundle, index: int, model: str | None = None, split: str = "train"):
    """``(x, y)``: example ``index`` of ``split`` as ``model`` trains on it (``input_shape_for``): a folder's image
    decoded again from its file at the training size when that differs from the size the bundle was loaded at."""
    from core.data.images import ImageDataset, decode
    from core.train.config import input_shape_for

    ds = bundle.splits[split]
    x, y = ds[index]
    shape = input_shape_for(bundle, model)
    if isinstance(ds, ImageDataset) and tuple(x.shape) != shape:
        x = decode(ds.paths[index], shape[-1], shape[0]).float() / 255.0
    return x, y
