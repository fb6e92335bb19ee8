"""The FID Inception network: pytorch-fid's weight layout, pool3 features, offline weight lookup."""

import pytest
import torch

from freezeg.metrics import inception
from freezeg.metrics.inception import FIDInceptionV3, load_inception


def _conv(name, cin, cout, kh, kw=None):
    """Keys of one torchvision BasicConv2d (bias-free conv + batch norm) and their shapes."""
    kw = kh if kw is None else kw
    return {f"{name}.conv.weight": (cout, cin, kh, kw), f"{name}.bn.weight": (cout,), f"{name}.bn.bias": (cout,),
            f"{name}.bn.running_mean": (cout,), f"{name}.bn.running_var": (cout,)}


def _expected_keys():
    """pt_inception-2015-12-05-6726825d.pth, derived from pytorch-fid's fid_inception_v3() on
    torchvision's Inception3(num_classes=1008, aux_logits=False) and its block definitions."""
    keys = {}
    for name, cin, cout, k in [("Conv2d_1a_3x3", 3, 32, 3), ("Conv2d_2a_3x3", 32, 32, 3), ("Conv2d_2b_3x3", 32, 64, 3),
                               ("Conv2d_3b_1x1", 64, 80, 1), ("Conv2d_4a_3x3", 80, 192, 3)]:
        keys |= _conv(name, cin, cout, k)
    for name, cin, pool in [("Mixed_5b", 192, 32), ("Mixed_5c", 256, 64), ("Mixed_5d", 288, 64)]:  # InceptionA
        for sub, a, b, k in [("branch1x1", cin, 64, 1), ("branch5x5_1", cin, 48, 1), ("branch5x5_2", 48, 64, 5),
                             ("branch3x3dbl_1", cin, 64, 1), ("branch3x3dbl_2", 64, 96, 3), ("branch3x3dbl_3", 96, 96, 3),
                             ("branch_pool", cin, pool, 1)]:
            keys |= _conv(f"{name}.{sub}", a, b, k)
    for sub, a, b, k in [("branch3x3", 288, 384, 3), ("branch3x3dbl_1", 288, 64, 1),  # InceptionB
                         ("branch3x3dbl_2", 64, 96, 3), ("branch3x3dbl_3", 96, 96, 3)]:
        keys |= _conv(f"Mixed_6a.{sub}", a, b, k)
    for name, c in [("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)]:  # InceptionC
        for sub, a, b, kh, kw in [("branch1x1", 768, 192, 1, 1), ("branch7x7_1", 768, c, 1, 1),
                                  ("branch7x7_2", c, c, 1, 7), ("branch7x7_3", c, 192, 7, 1),
                                  ("branch7x7dbl_1", 768, c, 1, 1), ("branch7x7dbl_2", c, c, 7, 1),
                                  ("branch7x7dbl_3", c, c, 1, 7), ("branch7x7dbl_4", c, c, 7, 1),
                                  ("branch7x7dbl_5", c, 192, 1, 7), ("branch_pool", 768, 192, 1, 1)]:
            keys |= _conv(f"{name}.{sub}", a, b, kh, kw)
    for sub, a, b, kh, kw in [("branch3x3_1", 768, 192, 1, 1), ("branch3x3_2", 192, 320, 3, 3),  # InceptionD
                              ("branch7x7x3_1", 768, 192, 1, 1), ("branch7x7x3_2", 192, 192, 1, 7),
                              ("branch7x7x3_3", 192, 192, 7, 1), ("branch7x7x3_4", 192, 192, 3, 3)]:
        keys |= _conv(f"Mixed_7a.{sub}", a, b, kh, kw)
    for name, cin in [("Mixed_7b", 1280), ("Mixed_7c", 2048)]:  # InceptionE
        for sub, a, b, kh, kw in [("branch1x1", cin, 320, 1, 1), ("branch3x3_1", cin, 384, 1, 1),
                                  ("branch3x3_2a", 384, 384, 1, 3), ("branch3x3_2b", 384, 384, 3, 1),
                                  ("branch3x3dbl_1", cin, 448, 1, 1), ("branch3x3dbl_2", 448, 384, 3, 3),
                                  ("branch3x3dbl_3a", 384, 384, 1, 3), ("branch3x3dbl_3b", 384, 384, 3, 1),
                                  ("branch_pool", cin, 192, 1, 1)]:
            keys |= _conv(f"{name}.{sub}", a, b, kh, kw)
    keys |= {"fc.weight": (1008, 2048), "fc.bias": (1008,)}
    return keys


def test_state_dict_matches_pytorch_fid_weights_layout(tmp_path):
    path = tmp_path / "inception.pth"
    torch.save(FIDInceptionV3().state_dict(), path)
    saved = torch.load(path, weights_only=True)
    counters = {k for k in saved if k.endswith(".bn.num_batches_tracked")}
    shapes = {k: tuple(v.shape) for k, v in saved.items() if k not in counters}
    assert shapes == _expected_keys()
    assert len(counters) == 94 and sum(torch.Size(s).numel() for s in shapes.values()) == 23885392


def test_weights_load_with_or_without_batch_norm_counters(tmp_path):
    state = FIDInceptionV3().state_dict()
    state["Mixed_7c.branch_pool.bn.running_mean"] = torch.full((192,), 0.25)
    full, bare = tmp_path / "full.pth", tmp_path / "bare.pth"
    torch.save(state, full)
    torch.save({k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}, bare)
    for path in (full, bare):
        model = load_inception(str(path))
        assert not model.training and not any(p.requires_grad for p in model.parameters())
        assert torch.equal(model.Mixed_7c.branch_pool.bn.running_mean, torch.full((192,), 0.25))


def test_small_batch_gives_pool3_features(tmp_path):
    torch.manual_seed(0)
    net = FIDInceptionV3()
    for m in net.modules():  # He init keeps activations O(1) (PyTorch's default decays into slow denormals)
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    path = tmp_path / "inception.pth"
    torch.save(net.state_dict(), path)
    model = load_inception(path)
    x = torch.rand(2, 3, 75, 75) * 2 - 1
    with torch.no_grad():
        features = model(x)
    assert features.shape == (2, 2048) and features.dtype == torch.float32
    assert torch.all(features >= 0) and features.std() > 0.01  # averages of ReLU outputs, not all zero
    assert not torch.allclose(features[0], features[1])


@pytest.fixture(autouse=True)
def without_fid_extra(monkeypatch):
    """These tests are about pytorch-fid's weights: hide an installed [fid] extra (test_nvlabs_inception covers it)."""
    monkeypatch.setattr(inception, "packaged_network_file", lambda: None)


def test_missing_weights_say_how_to_get_them(monkeypatch, tmp_path):
    monkeypatch.delenv("FREEZEG_INCEPTION", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))  # an empty hub cache
    with pytest.raises(ValueError) as e:
        load_inception()
    message = str(e.value)
    assert "\n" not in message
    assert "pt_inception-2015-12-05-6726825d.pth" in message
    assert "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" in message
    assert "--inception PATH" in message and "$FREEZEG_INCEPTION" in message
    assert "pip install 'freezeg[fid]'" in message


def test_weights_are_found_through_env_and_hub_cache(monkeypatch, tmp_path):
    state = FIDInceptionV3().state_dict()
    state["fc.bias"] = torch.full((1008,), 3.0)
    env_file = tmp_path / "mine.pth"
    torch.save(state, env_file)
    monkeypatch.setenv("FREEZEG_INCEPTION", str(env_file))
    assert torch.equal(load_inception().fc.bias, state["fc.bias"])
    monkeypatch.setenv("FREEZEG_INCEPTION", str(tmp_path / "nowhere.pth"))
    with pytest.raises(ValueError, match=r"nowhere\.pth: no such file \(\$FREEZEG_INCEPTION\)"):
        load_inception()
    monkeypatch.delenv("FREEZEG_INCEPTION")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    cached = tmp_path / "th" / "hub" / "checkpoints" / inception.WEIGHTS_NAME
    cached.parent.mkdir(parents=True)
    torch.save(state, cached)
    assert torch.equal(load_inception().fc.bias, state["fc.bias"])


def test_wrong_weights_are_refused_naming_the_file(tmp_path):
    state = FIDInceptionV3().state_dict()
    state["fc.weight"] = torch.zeros(1000, 2048)  # torchvision's ImageNet head, not the FID graph's
    del state["Mixed_5b.branch1x1.conv.weight"]
    path = tmp_path / "other.pth"
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"other\.pth: not the expected weights \(missing: Mixed_5b\.branch1x1\.conv\.weight; "
                                         r"wrong shape: fc\.weight \(1000, 2048\) \(expected \(1008, 2048\)\)\)"):
        load_inception(path)
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match=r"junk\.pth: cannot read weights"):
        load_inception(tmp_path / "junk.pth")


def test_optional_inception_gives_the_howto_only_when_nothing_was_named(monkeypatch, tmp_path):
    from freezeg.metrics.inception import inception_if_available

    monkeypatch.delenv("FREEZEG_INCEPTION", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    model, howto = inception_if_available()
    assert model is None and "pt_inception-2015-12-05-6726825d.pth" in howto
    monkeypatch.setenv("FREEZEG_INCEPTION", str(tmp_path / "typo.pth"))  # named, so its absence is an error
    with pytest.raises(ValueError, match="typo.pth: no such file"):
        inception_if_available()
