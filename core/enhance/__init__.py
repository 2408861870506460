"""Super-resolution ("Computer, enhance!"): LR/HR pairs, upsamplers (the book's, SRCNN, ESPCN, resize-conv), losses
(L1/MSE, perceptual on EfficientNet-Lite0, a critic), PSNR/SSIM against bicubic; training is the job kind "enhance".

>>> from core.enhance import EnhanceConfig, fit
>>> fit(EnhanceConfig(model="espcn", scale=2, max_steps=300)).evaluation["means"]   # doctest: +SKIP
"""
from core.enhance.apply import enhance, enhance_file, evaluate_run, load_enhancer, read_upload
from core.enhance.config import EnhanceConfig, EnhanceResult, EvalReport
from core.enhance.data import load_images
from core.enhance.models import MODELS, build_model
from core.enhance.train import fit

__all__ = ["enhance", "enhance_file", "evaluate_run", "load_enhancer", "read_upload", "EnhanceConfig",
           "EnhanceResult", "EvalReport", "load_images", "MODELS", "build_model", "fit"]
