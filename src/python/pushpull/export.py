"""Export PyTorch networks into pushpull model files (HDF5 schema "pushpull-mlp", version 1; docs/model-format.md).

Needs torch and h5py, imported only here (the rest of the module needs neither).
"""
import re

import numpy as np

ACTIVATIONS = ("tanh", "softplus", "elu", "silu", "sigmoid", "identity")


def _torch():
    import torch
    from torch import nn
    return torch, nn


def _is_concatsquash(module):
    return all(hasattr(module, a) for a in ("_layer", "_hyper_gate", "_hyper_bias"))


def _activation_name(module, position):
    """The schema's name of a PyTorch activation module (the parameter-free standard forms)."""
    _, nn = _torch()
    where = f"{type(module).__name__} (module {position})"
    if isinstance(module, nn.Softplus):
        if module.beta != 1:
            raise ValueError(f"{where}: pushpull's softplus is log(1 + exp(z)), nn.Softplus needs beta=1")
        return "softplus"
    if isinstance(module, nn.ELU):
        if module.alpha != 1.0:
            raise ValueError(f"{where}: pushpull's elu has alpha = 1, nn.ELU needs alpha=1.0")
        return "elu"
    names = {nn.Tanh: "tanh", nn.SiLU: "silu", nn.Sigmoid: "sigmoid", nn.Identity: "identity"}
    for cls, name in names.items():
        if isinstance(module, cls):
            return name
    raise ValueError(f"{where} cannot be exported: the schema knows nn.Linear layers (and FFJORD's "
                     f"ConcatSquashLinear) with the activations {', '.join(ACTIVATIONS)}")


def _flatten(module):
    """Layers and activations in forward order; descends into nn.Sequential and nn.ModuleList."""
    _, nn = _torch()
    if isinstance(module, nn.Linear) or _is_concatsquash(module) or not list(module.children()):
        yield module
    elif isinstance(module, (nn.Sequential, nn.ModuleList)):
        for child in module.children():
            yield from _flatten(child)
    else:
        raise ValueError(f"{type(module).__name__} cannot be exported: pass an nn.Sequential (or a list of modules "
                         "in forward order) of nn.Linear layers and activations")


def _parse(modules):
    """[layer, act, layer, act, ..., layer, (act)] -> layers, hidden activation, output activation."""
    _, nn = _torch()
    layers, after = [], []
    for position, m in enumerate(modules):
        if isinstance(m, nn.Linear) or _is_concatsquash(m):
            layers.append(m)
            after.append(None)
        elif isinstance(m, nn.Dropout):
            continue  # inactive in evaluation
        else:
            name = _activation_name(m, position)
            if not layers or after[-1] is not None:
                raise ValueError(f"{type(m).__name__} (module {position}): expected at most one activation after each "
                                 "layer and none before the first")
            after[-1] = name
    if not layers:
        raise ValueError("no nn.Linear or ConcatSquashLinear layer found")
    hidden = {a or "identity" for a in after[:-1]}
    if len(hidden) > 1:
        raise ValueError(f"the schema has one hidden activation, found {sorted(hidden)}")
    return layers, (hidden.pop() if hidden else "identity"), (after[-1] or "identity")


def _numpy64(tensor):
    return tensor.detach().cpu().double().numpy().copy()


def _weights_of_modules(modules):
    layers, activation, output_activation = _parse(modules)
    weights = []
    for layer in layers:
        linear = layer._layer if _is_concatsquash(layer) else layer
        w = {"W": _numpy64(linear.weight),  # out x in, as nn.Linear stores it
             "b": _numpy64(linear.bias) if linear.bias is not None else np.zeros(linear.out_features)}
        if _is_concatsquash(layer):
            if layer._hyper_gate.in_features != 1 or layer._hyper_bias.in_features != 1:
                raise ValueError("ConcatSquashLinear with a context wider than t is not in the schema")
            w["gate_W"] = _numpy64(layer._hyper_gate.weight)
            w["gate_b"] = _numpy64(layer._hyper_gate.bias)
            w["hyper_W"] = _numpy64(layer._hyper_bias.weight)
        weights.append(w)
    squash = any(_is_concatsquash(layer) for layer in layers)
    if squash and not all(_is_concatsquash(layer) for layer in layers):
        raise ValueError("ConcatSquashLinear and nn.Linear layers cannot be mixed in one network")
    return weights, activation, output_activation, squash


def _weights_of_state_dict(state, activation, output_activation):
    """nn.Sequential state dict ({"0.weight", "0.bias", "2.weight", ...}): the Linear layers in index order."""
    layers = {}
    for key, value in state.items():
        m = re.fullmatch(r"(?:(.*)\.)?(weight|bias)", key)
        if not m:
            raise ValueError(f"state dict entry '{key}' is not a Linear layer's weight or bias")
        prefix = m.group(1) or ""
        layers.setdefault(prefix, {})[m.group(2)] = value
    def order(prefix):
        parts = prefix.split(".") if prefix else []
        return [int(p) if p.isdigit() else p for p in parts]
    weights = []
    for prefix in sorted(layers, key=order):
        entry = layers[prefix]
        if "weight" not in entry or entry["weight"].dim() != 2:
            raise ValueError(f"state dict entry '{prefix}': expected a 2-D weight of an nn.Linear layer")
        W = _numpy64(entry["weight"])
        b = _numpy64(entry["bias"]) if "bias" in entry else np.zeros(W.shape[0])
        weights.append({"W": W, "b": b})
    if not weights:
        raise ValueError("the state dict holds no Linear layer")
    for name in (activation, output_activation):
        if name not in ACTIVATIONS:
            raise ValueError(f"unknown activation '{name}'; the schema knows {', '.join(ACTIVATIONS)}")
    return weights, activation, output_activation, False


def export_mlp(model, path, *, group=None, time_input=None, base_time=None, input_dim=None, end_time=1.0,
               activation=None, output_activation="identity", mode="a"):
    """Writes a PyTorch network into `group` of the HDF5 file `path` (replacing the group if it exists).

    model:      a torch.nn.Sequential (or a list of modules in forward order) of nn.Linear layers and activations
                (tanh, softplus, elu, silu, sigmoid, identity; nn.Dropout is skipped) or FFJORD ConcatSquashLinear
                layers; or the state dict of such an nn.Sequential, with `activation` (and `output_activation`)
                naming the activations it cannot carry.
    base_time:  0 or 1 for a velocity field (the time of the standard normal base density); None for a decoder.
    group:      default "/velocity" for a velocity field, "/decoder/mean" for a decoder (use "/decoder/std" for the
                standard deviation head of a stochastic decoder).
    time_input: default "none" for a decoder, "concat" for a velocity field of nn.Linear layers (the network reads
                torch.cat([x, t], -1), t last), "concatsquash" for ConcatSquashLinear layers.
    input_dim:  default from the first layer's width.
    end_time:   a velocity field trained on [0, T]: the file holds the same flow on [0, 1] (weights rescaled).
    mode:       h5py file mode: "a" adds to an existing file, "w" starts a new one.

    Raises ValueError naming the module that cannot be exported. Returns the group written.
    """
    import h5py
    torch, nn = _torch()
    if isinstance(model, dict):
        if activation is None:
            raise ValueError("a state dict does not say its activations: pass activation='tanh' (etc.)")
        weights, act, out_act, squash = _weights_of_state_dict(model, activation, output_activation)
    else:
        if activation is not None:
            raise ValueError("activation= is for state dicts; a module carries its activations")
        modules = list(model) if isinstance(model, (list, tuple)) else [model]
        for position, m in enumerate(modules):
            if not isinstance(m, nn.Module):
                raise ValueError(f"module {position} is a {type(m).__name__}, not a torch.nn.Module")
        weights, act, out_act, squash = _weights_of_modules([m for module in modules for m in _flatten(module)])

    velocity = base_time is not None
    if velocity and base_time not in (0, 1):
        raise ValueError(f"base_time {base_time}: 0 or 1 (the time at which the base density lives)")
    if time_input is None:
        time_input = ("concatsquash" if squash else "concat") if velocity else "none"
    if time_input not in ("none", "concat", "concatsquash"):
        raise ValueError(f"unknown time_input '{time_input}'; one of none, concat, concatsquash")
    if (time_input == "concatsquash") != squash:
        raise ValueError(f"time_input {time_input} does not match the layers "
                         f"({'ConcatSquashLinear' if squash else 'nn.Linear'})")
    if group is None:
        group = "/velocity" if velocity else "/decoder/mean"
    first_in = weights[0]["W"].shape[1]
    if input_dim is None:
        input_dim = first_in - (1 if time_input == "concat" else 0)
    expected_in = input_dim + (1 if time_input == "concat" else 0)
    if first_in != expected_in:
        raise ValueError(f"the first layer reads {first_in} inputs, expected {expected_in} (input_dim {input_dim}"
                         f"{' + 1 for the time column' if time_input == 'concat' else ''})")
    for k in range(1, len(weights)):
        if weights[k]["W"].shape[1] != weights[k - 1]["W"].shape[0]:
            raise ValueError(f"layer {k} reads {weights[k]['W'].shape[1]} inputs, but layer {k - 1} gives "
                             f"{weights[k - 1]['W'].shape[0]}")
    if velocity and weights[-1]["W"].shape[0] != input_dim:
        raise ValueError(f"a velocity field maps R^{input_dim} to itself, but the last layer gives "
                         f"{weights[-1]['W'].shape[0]} outputs")

    T = float(end_time)
    if T != 1.0:
        if not velocity:
            raise ValueError("end_time applies to velocity fields only")
        if out_act != "identity":
            raise ValueError("end_time != 1 needs output_activation identity")
        if time_input == "concat":
            weights[0]["W"][:, input_dim] *= T  # the time column
        if time_input == "concatsquash":
            for w in weights:
                w["gate_W"] *= T
                w["hyper_W"] *= T
        for name in ("W", "b", "hyper_W"):
            if name in weights[-1]:
                weights[-1][name] *= T

    with h5py.File(path, mode) as f:
        if group in f:
            del f[group]
        g = f.create_group(group)
        g.attrs["format"] = "pushpull-mlp"
        g.attrs["version"] = 1
        g.attrs["input_dim"] = int(input_dim)
        g.attrs["output_dim"] = int(weights[-1]["W"].shape[0])
        g.attrs["num_layers"] = len(weights)
        g.attrs["time_input"] = time_input
        g.attrs["activation"] = act
        g.attrs["output_activation"] = out_act
        if velocity:
            g.attrs["base_time"] = int(base_time)
        for k, w in enumerate(weights):
            for name, value in w.items():
                g[f"{name}{k}"] = np.asarray(value, dtype=np.float64)
    return group
