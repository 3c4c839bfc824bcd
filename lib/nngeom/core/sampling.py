"""Sampling in high dimension: uniform balls and isotropic Gaussians, and the norms of their samples.

Used for the concentration-of-measure comparison of the thesis' appendix 10 (Proposition 10.1,
Figure 19): samples of ``N(0, sigma^2 I_n)`` concentrate near the sphere of radius ``sigma sqrt(n)``
with a spread of order 1, samples of ``U(B_r(0))`` near the sphere of radius ``r`` with a spread of
order ``r / n``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from nngeom.core.validation import check_choice, check_positive, check_positive_int

__all__ = ["uniform_ball", "gaussian", "sample_norms"]


def uniform_ball(
    n_samples: int,
    dim: int,
    radius: float = 1.0,
    generator: torch.Generator | None = None,
    device: torch.device | None = None,
) -> Tensor:
    """``n_samples`` points of the uniform distribution on the ball of ``radius`` in R^dim, ``[n_samples, dim]``.

    A Gaussian direction normalised to the unit sphere, scaled by ``radius * U^(1/dim)``: the radius of a
    uniform point has density proportional to ``r^(dim-1)``.
    """
    check_positive_int("n_samples", n_samples)
    check_positive_int("dim", dim)
    check_positive("radius", radius)
    z = torch.randn(n_samples, dim, generator=generator, device=device)
    u = torch.rand(n_samples, 1, generator=generator, device=device)
    return z / z.norm(dim=1, keepdim=True) * radius * u.pow(1.0 / dim)


def gaussian(
    n_samples: int,
    dim: int,
    sigma: float = 1.0,
    generator: torch.Generator | None = None,
    device: torch.device | None = None,
) -> Tensor:
    """``n_samples`` points of ``N(0, sigma^2 I_dim)``, ``[n_samples, dim]``."""
    check_positive_int("n_samples", n_samples)
    check_positive_int("dim", dim)
    check_positive("sigma", sigma)
    return sigma * torch.randn(n_samples, dim, generator=generator, device=device)


def sample_norms(
    kind: str,
    n_samples: int,
    dim: int,
    scale: float,
    generator: torch.Generator | None = None,
    device: torch.device | None = None,
    chunk_elements: int = 1 << 25,
) -> Tensor:
    """Euclidean norms of ``n_samples`` draws, generated in chunks so that ``dim`` may be ImageNet-sized.

    ``kind='ball'``: ``U(B_scale(0))``; ``kind='gaussian'``: ``N(0, scale^2 I)``. The vectors themselves
    are drawn (not just their norm's law), so the result is an honest Monte-Carlo sample.
    """
    check_choice("kind", kind, ["ball", "gaussian"])
    check_positive_int("n_samples", n_samples)
    check_positive_int("dim", dim)
    per_chunk = max(1, chunk_elements // dim)
    out = []
    for start in range(0, n_samples, per_chunk):
        m = min(per_chunk, n_samples - start)
        draw = uniform_ball if kind == "ball" else gaussian
        out.append(draw(m, dim, scale, generator=generator, device=device).norm(dim=1))
    return torch.cat(out).cpu()
