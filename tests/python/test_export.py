"""pushpull.export_mlp: PyTorch networks round-trip (the same outputs in torch and in pushpull to round-off)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402


def test_decoder_round_trip_and_stochastic_pair(pp, tmp_path):
    torch.manual_seed(0)
    mean = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 5), nn.Sigmoid())
    std = nn.Sequential(nn.Linear(2, 8), nn.ELU(), nn.Dropout(0.1), nn.Linear(8, 5), nn.Softplus())
    path = tmp_path / "decoder.h5"
    assert pp.export_mlp(mean, str(path), mode="w") == "/decoder/mean"
    assert pp.export_mlp(std, str(path), group="/decoder/std") == "/decoder/std"
    m = pp.load_model(str(path))
    assert m.latent_dim == 2 and m.data_dim == 5 and not m.has_velocity
    z = np.random.default_rng(0).standard_normal((50, 2))
    std.eval()
    with torch.no_grad():
        ref_mean = mean.double()(torch.from_numpy(z)).numpy()
        ref_std = std.double()(torch.from_numpy(z)).numpy()
    assert np.max(np.abs(m.decode(z) - ref_mean)) < 1e-13
    assert np.max(np.abs(m.decode(z, std=True) - ref_std)) < 1e-13
    g = pp.geodesic(m, np.array([[[0.1, 0.2], [-0.3, 0.4]]]), metric="stochastic")
    assert g.ok.all()


def test_velocity_round_trip_concat_and_state_dict(pp, tmp_path):
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(3, 32), nn.SiLU(), nn.Linear(32, 32), nn.SiLU(), nn.Linear(32, 2)).double()
    x = np.random.default_rng(1).standard_normal((20, 2))
    for t in (0.0, 0.3, 1.0):
        with torch.no_grad():
            tx = torch.from_numpy(x)
            ref = net(torch.cat([tx, torch.full((20, 1), t, dtype=torch.float64)], -1)).numpy()
        for source, kw in ((net, {}), (net.state_dict(), {"activation": "silu"})):
            path = tmp_path / "flow.h5"
            assert pp.export_mlp(source, str(path), base_time=0, mode="w", **kw) == "/velocity"
            m = pp.load_model(str(path))
            assert m.has_velocity and m.dim == 2 and m.base_time == 0
            assert np.max(np.abs(m.velocity(x, t) - ref)) < 1e-13
    r = pp.density(m, x)
    assert r.ok.all()


def test_end_time_rescaling(pp, tmp_path):
    """A field trained on [0, T] is written as v1(x, s) = T v(x, s T) on [0, 1]."""
    torch.manual_seed(2)
    net = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2)).double()
    path = tmp_path / "flow.h5"
    T = 2.5
    pp.export_mlp(net, str(path), base_time=1, end_time=T, mode="w")
    x = np.random.default_rng(2).standard_normal((5, 2))
    s = 0.4
    with torch.no_grad():
        ref = T * net(torch.cat([torch.from_numpy(x), torch.full((5, 1), s * T, dtype=torch.float64)], -1)).numpy()
    assert np.max(np.abs(pp.load_model(str(path)).velocity(x, s) - ref)) < 1e-12


def test_unsupported_networks(pp, tmp_path):
    path = str(tmp_path / "x.h5")
    with pytest.raises(ValueError, match=r"ReLU \(module 1\) cannot be exported"):
        pp.export_mlp(nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 2)), path, mode="w")
    with pytest.raises(ValueError, match="Conv1d"):
        pp.export_mlp(nn.Sequential(nn.Conv1d(1, 1, 3), nn.Linear(2, 2)), path, mode="w")
    with pytest.raises(ValueError, match="beta=1"):
        pp.export_mlp(nn.Sequential(nn.Linear(2, 4), nn.Softplus(beta=2), nn.Linear(4, 2)), path, mode="w")
    with pytest.raises(ValueError, match="one hidden activation"):
        pp.export_mlp(nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 4), nn.SiLU(), nn.Linear(4, 2)), path,
                      mode="w")
    with pytest.raises(ValueError, match="maps R\\^2 to itself"):
        pp.export_mlp(nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 5)), path, base_time=0, mode="w")
    with pytest.raises(ValueError, match="pass activation="):
        pp.export_mlp(nn.Linear(2, 2).state_dict(), path, mode="w")
    with pytest.raises(ValueError, match="base_time 2"):
        pp.export_mlp(nn.Linear(3, 2), path, base_time=2, mode="w")
