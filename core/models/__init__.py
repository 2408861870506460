"""Models by name: ``build(name, num_classes, **opts)``, ``names(kind)``, ``build_for(bundle, name, **opts)``.

>>> from core import models
>>> models.names("text")
['textcnn', 'bag_ngrams', 'bigru_max', 'lstm', 'gru']
>>> net = models.build("cnn", 10, input_shape=(1, 8, 8))

Each model has ``layer_groups()`` (input side first, head last) used for freezing and differential learning rates;
transfer models have ``notice`` (None, or why no pretrained weights were loaded) and ``pretrained``.
"""
from __future__ import annotations

from functools import partial

from core.models.audio import LogMel, MelCNN, MelResNet18, WaveCNN
from core.models.features import CachedFeatures
from core.models.efficientnet import EfficientNetLite0, EfficientNetLite0Transfer
from core.models.image import MLP, ResNet18Transfer, SmallCNN
from core.models.pretrained import WeightsPlan, weights_plan
from core.models.registry import (MODELS, ModelSpec, build, build_for, bundle_opts, default_model, group_parameters,
                                  layer_groups, names, rebuild, register, spec, typical_side, unwrap,
                                  user_options)
from core.models.stn import STNCNN
from core.models.text import BagOfNgrams, PooledRNN, RNNClassifier, TextCNN

# Training defaults per model: tuned on the built-in data so a user gets a sensible run without tuning
# (bench/bench_train.py checks them).
register(ModelSpec("mlp", "image", MLP, "flatten -> Linear/ReLU stack; a baseline",
                   defaults=dict(epochs=10, batch_size=64, optimizer="adamw", lr=2e-3, scheduler="one-cycle")))
register(ModelSpec("mlp_sigmoid", "image", partial(MLP, activation="sigmoid"),
                   "the notes' sigmoid MLP: flatten -> Linear/Sigmoid stack; the Inspect page can invert it exactly",
                   defaults=dict(epochs=10, batch_size=64, optimizer="adamw", lr=2e-3, scheduler="one-cycle")))
register(ModelSpec("cnn", "image", SmallCNN, "small AlexNet-style CNN: conv blocks, adaptive pooling, dropout head",
                   defaults=dict(epochs=15, batch_size=32, optimizer="adamw", lr=3e-3, scheduler="one-cycle"),
                   data_defaults={"builtin:digits": dict(epochs=6, batch_size=64, model_opts={"width": 16}),
                                  "builtin:shapes": dict(epochs=30, batch_size=32, model_opts={"width": 16})}))
register(ModelSpec("resnet18", "image", ResNet18Transfer,
                   "resnet18 transfer: ImageNet weights when available, new Linear-ReLU-Dropout-Linear head",
                   transfer=True, backbone="resnet18", no_pretrained={"weights": "none"},
                   input_features="backbone",
                   defaults=dict(epochs=5, batch_size=32, optimizer="adamw", lr=1e-3, scheduler="one-cycle",
                                 freeze_epochs=1, lr_decay=3.0)))
# Photos: the head trains on the frozen ImageNet features (computed once per image, so epochs take seconds) at the
# resolution Lite0 was trained at; unfreeze (fewer frozen epochs) or add augmentation to fine-tune the whole network.
register(ModelSpec("efficientnet_lite0", "image", EfficientNetLite0Transfer,
                   "EfficientNet-Lite0 transfer: ImageNet weights shipped offline, new Linear-ReLU-Dropout-Linear head",
                   transfer=True, backbone="efficientnet_lite0", no_pretrained={"weights": "none"},
                   input_features="backbone",
                   defaults=dict(epochs=10, batch_size=32, optimizer="adamw", lr=1e-3, scheduler="one-cycle",
                                 freeze_epochs=10, train_bn=False, lr_decay=3.0, augment_preset=False,
                                 data_opts={"image_size": 224})))
register(ModelSpec("stn_cnn", "image", STNCNN,
                   "spatial transformer: a localisation net predicts an affine transform (identity at start) that "
                   "straightens the input before a small CNN",
                   defaults=dict(epochs=15, batch_size=32, optimizer="adamw", lr=2e-3, scheduler="one-cycle")))
register(ModelSpec("wave_cnn", "audio", WaveCNN, "1-D CNN on the raw waveform (conv/batch-norm/pool stages)",
                   defaults=dict(epochs=15, batch_size=32, optimizer="adamw", lr=3e-3, scheduler="one-cycle")))
register(ModelSpec("mel_cnn", "audio", MelCNN, "2-D CNN on log-mel spectrograms (features cached once per clip)",
                   input_features="logmel",
                   defaults=dict(epochs=12, batch_size=32, optimizer="adamw", lr=3e-3, scheduler="one-cycle")))
register(ModelSpec("mel_resnet18", "audio", MelResNet18, "resnet18 on log-mel spectrograms", transfer=True,
                   backbone="resnet18", no_pretrained={"weights": "none"}, input_features="logmel",
                   defaults=dict(epochs=8, batch_size=32, optimizer="adamw", lr=1e-3, scheduler="one-cycle",
                                 lr_decay=3.0)))
register(ModelSpec("textcnn", "text", TextCNN,
                   "1-D CNN over word embeddings (widths 3, 4, 5), max over time; the default for text",
                   defaults=dict(epochs=10, batch_size=32, optimizer="adamw", lr=3e-3, scheduler="one-cycle")))
register(ModelSpec("bag_ngrams", "text", BagOfNgrams,
                   "fastText-style: mean of word + hashed bigram embeddings -> linear; trains in seconds",
                   defaults=dict(epochs=10, batch_size=32, optimizer="adamw", lr=1e-2, scheduler="one-cycle")))
register(ModelSpec("bigru_max", "text", partial(PooledRNN, rnn="gru"),
                   "embedding -> bidirectional GRU -> max-pool over the words -> linear",
                   defaults=dict(epochs=10, batch_size=32, optimizer="adamw", lr=3e-3, scheduler="one-cycle")))
register(ModelSpec("lstm", "text", partial(RNNClassifier, rnn="lstm"),
                   "embedding -> (bi)LSTM -> linear; padding ignored via packed sequences",
                   defaults=dict(epochs=8, batch_size=32, optimizer="adamw", lr=3e-3, scheduler="one-cycle")))
register(ModelSpec("gru", "text", partial(RNNClassifier, rnn="gru"),
                   "embedding -> (bi)GRU -> linear; padding ignored via packed sequences",
                   defaults=dict(epochs=8, batch_size=32, optimizer="adamw", lr=3e-3, scheduler="one-cycle")))

__all__ = ["MODELS", "ModelSpec", "build", "build_for", "bundle_opts", "names", "rebuild", "register", "spec",
           "unwrap", "default_model", "typical_side", "TextCNN", "BagOfNgrams", "PooledRNN",
           "layer_groups", "group_parameters", "MLP", "SmallCNN", "ResNet18Transfer", "WaveCNN", "MelCNN",
           "MelResNet18", "RNNClassifier", "STNCNN", "LogMel", "CachedFeatures", "EfficientNetLite0",
           "EfficientNetLite0Transfer", "WeightsPlan", "weights_plan"]
