"""The array backends a block of products runs on: NumPy, or torch on a device (private).

Each backend offers the few operations the blocked engine needs (``asarray``,
``matmul``, ``to64``, ``nuclear_from_square``, ``to_numpy``), so the engine is
written once. torch is imported only when a device is given.
"""

from __future__ import annotations

import numpy as np

from .._device import check_torch_device

__all__ = ["check_device", "array_ops", "swap", "nuclear_norms"]


def check_device(device):
    """Return None (NumPy) or the name of a torch device that exists here."""
    if device is None:
        return None
    return check_torch_device(
        device, allowed="None (NumPy), 'cpu', 'cuda', 'cuda:<index>' or a torch.device",
        fallback="device=None (NumPy) or device='cpu'", cpu_or_cuda_only=True)


class NumpyOps:
    @staticmethod
    def asarray(a):
        return a

    @staticmethod
    def matmul(a, b):
        return np.matmul(a, b)

    @staticmethod
    def to64(a):
        return np.ascontiguousarray(a, dtype=np.float64)

    @staticmethod
    def nuclear_from_square(K):
        lam = np.linalg.eigvalsh(K)
        return np.sqrt(np.maximum(lam, 0.0)).sum(axis=-1)

    @staticmethod
    def to_numpy(a):
        return np.asarray(a)


class TorchOps:
    def __init__(self, device: str):
        import torch

        self.torch = torch
        self.device = torch.device(device)

    def asarray(self, a):
        return self.torch.from_numpy(np.ascontiguousarray(a)).to(self.device)

    def matmul(self, a, b):
        return self.torch.matmul(a, b)

    def to64(self, a):
        return a.to(self.torch.float64).contiguous()

    def nuclear_from_square(self, K):
        lam = self.torch.linalg.eigvalsh(K)
        return lam.clamp_min(0.0).sqrt().sum(dim=-1)

    @staticmethod
    def to_numpy(a):
        return a.cpu().numpy()


def array_ops(device):
    """The backend of ``device`` (checked): NumPy for None, torch otherwise."""
    return NumpyOps if device is None else TorchOps(device)


def swap(a):
    """Swap the last two axes of a NumPy array or a torch tensor."""
    return a.swapaxes(-1, -2) if isinstance(a, np.ndarray) else a.transpose(-1, -2)


def nuclear_norms(ops, M):
    """Nuclear norms of a stack of matrices ``M`` (..., p, q), squared on the shorter side.

    Eigenvalues are clamped at 0 before the square root.
    """
    M = ops.to64(M)
    if M.shape[-2] <= M.shape[-1]:
        K = ops.matmul(M, swap(M))
    else:
        K = ops.matmul(swap(M), M)
    return ops.nuclear_from_square(K)
