"""The GAN package's shared names, below everything else in it (config, data, models, train and callbacks import
them from here, so none of those needs another to know them)."""
from __future__ import annotations

TOYS = ("toy:1010", "toy:ring")  # the toy sources; anything else is an image source for core.data.load
IMAGE_SIZES = (8, 16, 28, 32, 64)  # square sizes the DCGANs are registered for; images snap to one of them
SERIES = ("d_loss_real", "d_loss_fake", "g_loss", "d_real", "d_fake")  # per step: D losses, G loss, D(x), D(G(z))
