"""One check for torch device arguments, shared by the encoder and the SOCM engine.

torch is imported inside the function, so modules that only need NumPy stay
importable (and fast to import) without it.
"""

from __future__ import annotations

from ._validation import describe

__all__ = ["check_torch_device"]


def check_torch_device(device, *, name: str = "device", allowed: str = "'cpu', 'cuda', "
                       "'cuda:<index>' or a torch.device", fallback: str = "device='cpu'",
                       cpu_or_cuda_only: bool = False) -> str:
    """Parse ``device`` with torch, check that it exists here, return its name.

    Parameters
    ----------
    device : str or torch.device
    name : str
        How the caller names the argument in its errors.
    allowed : str
        What the caller accepts, for the error on an unparseable value.
    fallback : str
        What to use instead when the device is not available, for the error.
    cpu_or_cuda_only : bool
        Refuse other device types (mps, xpu, ...).

    Returns
    -------
    str
        The canonical device name (``"cpu"``, ``"cuda"``, ``"cuda:1"``).

    Raises
    ------
    ValueError
        If torch cannot parse it, CUDA is asked for but absent, the GPU index
        does not exist, or (with ``cpu_or_cuda_only``) it is another type.
    """
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        raise ValueError(f"{name}={device!r} needs torch, which is not installed.") from None
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(
            f"Expected {name} to be {allowed}. Received {describe(device)} ({exc})."
        ) from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"{name}={device!r} asks for a CUDA GPU, but CUDA is not available here "
                f"(torch sees no GPU). Use {fallback} instead."
            )
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise ValueError(
                f"{name}={device!r} asks for GPU {parsed.index}, but torch sees "
                f"{torch.cuda.device_count()} GPU(s)."
            )
    elif cpu_or_cuda_only and parsed.type != "cpu":
        raise ValueError(
            f"Expected {name} to be {allowed}. Received {describe(device)} "
            f"(device type {parsed.type!r})."
        )
    return str(parsed)
