"""Our sliding-window inference (vimvision.dense.inference) equals mmseg's own EncoderDecoder.slide_inference."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from tests.dense.mm.stack import require_mm_stack
from tests.dense.test_seg_inference import window_mean
from vimvision.dense.inference import slide_logits

require_mm_stack()

from mmseg.models.segmentors import EncoderDecoder  # noqa: E402


@pytest.mark.parametrize("size,crop,stride", [((37, 53), 16, 10), ((20, 20), 16, 5), ((10, 30), 16, 16)])
def test_slide_logits_equal_mmsegs_slide_inference(size, crop, stride):
    """A window-dependent model (each output pixel is its window's mean) makes every window boundary count."""
    segmentor = SimpleNamespace(test_cfg=SimpleNamespace(stride=(stride, stride), crop_size=(crop, crop)),
                                out_channels=2, encode_decode=lambda image, metas: window_mean(image))
    images = torch.randn(2, 3, *size)
    theirs = EncoderDecoder.slide_inference(segmentor, images, [dict(img_shape=size)])
    torch.testing.assert_close(slide_logits(window_mean, images, crop, stride), theirs)
