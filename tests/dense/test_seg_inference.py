"""Sliding-window and test-time-augmented segmentation inference (vimvision.dense.inference)."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from vimvision.dense.inference import segment_probs, slide_logits

torch.manual_seed(0)
PIXELWISE = nn.Conv2d(3, 4, 1)  # equivariant to crops and flips: every inference mode must agree with it


def window_mean(x: torch.Tensor) -> torch.Tensor:
    """Depends on the whole window: each output pixel is the window's mean (2 classes)."""
    m = x.mean((1, 2, 3), keepdim=True)
    return torch.cat([m, -m], 1).expand(-1, -1, *x.shape[-2:])


@pytest.mark.parametrize("size,crop,stride", [((37, 53), 16, 10), ((16, 16), 16, 5), ((10, 30), 16, 16)])
def test_slide_equals_whole_for_a_pixelwise_model(size, crop, stride):
    images = torch.randn(2, 3, *size)
    with torch.no_grad():
        torch.testing.assert_close(slide_logits(PIXELWISE, images, crop, stride), PIXELWISE(images))


def test_slide_windows_cover_every_pixel_and_average_their_overlaps():
    images = torch.randn(1, 3, 5, 8)
    out = slide_logits(window_mean, images, crop=4, stride=3)  # windows at y 0,1 and x 0,3,4
    torch.testing.assert_close(out[0, 0, 0, 0], images[..., :4, :4].mean())  # one window covers the corner
    torch.testing.assert_close(out[0, 0, 4, 7], images[..., 1:5, 4:8].mean())
    both = (images[..., 0:4, 3:7].mean() + images[..., 0:4, 4:8].mean() + images[..., 1:5, 3:7].mean()
            + images[..., 1:5, 4:8].mean()) / 4
    torch.testing.assert_close(out[0, 0, 2, 5], both)  # four windows overlap at (2, 5)
    assert torch.isfinite(out).all()


def test_flip_tta_averages_the_mirrored_prediction():
    shifted = nn.Conv2d(3, 4, (1, 3), padding=(0, 1))  # not flip-equivariant: its kernel is asymmetric
    images = torch.randn(1, 3, 8, 12)
    with torch.no_grad():
        expected = (shifted(images).softmax(1) + shifted(images.flip(-1)).flip(-1).softmax(1)) / 2
        torch.testing.assert_close(segment_probs(shifted, images, flip=True), expected)
        torch.testing.assert_close(segment_probs(PIXELWISE, images, flip=True), PIXELWISE(images).softmax(1))


def test_multi_scale_probabilities_average_the_scales_at_input_size():
    images = torch.randn(2, 3, 20, 28)
    options = dict(mode="slide", crop=16, stride=8, flip=True)
    with torch.no_grad():
        probs = segment_probs(PIXELWISE, images, scales=(0.5, 1.0, 1.5), **options)
        each = [segment_probs(PIXELWISE, images, scales=(s,), **options) for s in (0.5, 1.0, 1.5)]
        torch.testing.assert_close(each[1], PIXELWISE(images).softmax(1))
    assert probs.shape == (2, 4, 20, 28)
    torch.testing.assert_close(probs, sum(each) / 3)
    torch.testing.assert_close(probs.sum(1), torch.ones(2, 20, 28))
    assert not torch.allclose(each[0], each[1], atol=1e-3)  # another scale gives another prediction


def test_bad_mode_and_stride_are_named():
    with pytest.raises(ValueError, match="mode has 'sliding'"):
        segment_probs(PIXELWISE, torch.randn(1, 3, 8, 8), mode="sliding")
    with pytest.raises(ValueError, match="stride has 20"):
        slide_logits(PIXELWISE, torch.randn(1, 3, 8, 8), crop=16, stride=20)
