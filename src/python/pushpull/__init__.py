"""pushpull: pushforward of measures by flows and pullback geometry of decoders (docs/python.md).

The compiled part (pushpull._pushpull) wraps the public C++ API; options are keyword arguments named as the CLI's
options without the leading '-' (ode_type="bdf", ode_rtol=1e-8), with the CLI's checks, defaults and messages.
"""
from ._pushpull import (  # noqa: F401
    Model,
    PushforwardResult,
    Result,
    TransportResult,
    ValidationCase,
    ValidationResult,
    __version__,
    density,
    distances,
    exp_map,
    geodesic,
    help,
    load_model,
    metric_types,
    sample,
    sinkhorn,
    transport,
    two_sample,
    validate,
    validation_metrics,
    version_report,
)

# help is left out of __all__: `from pushpull import *` must not shadow the builtin help().
__all__ = ["Model", "PushforwardResult", "Result", "density", "distances", "exp_map", "geodesic", "load_model",
           "metric_types", "sample", "sinkhorn", "transport", "two_sample", "TransportResult", "validate",
           "validation_metrics", "ValidationCase", "ValidationResult", "version_report", "export_mlp"]


def export_mlp(*args, **kwargs):
    """Writes a PyTorch nn.Sequential (or its state dict) into a model file; see pushpull.export.export_mlp."""
    from .export import export_mlp as _export  # torch and h5py are imported only when exporting
    return _export(*args, **kwargs)
