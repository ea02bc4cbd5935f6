"""The layer-wise encoder's gradient path: d(embedding . probe) / d(backbone weight) from autograd equals central
finite differences in float64 on a random RWKV-6, RWKV-7 and tiny Llama, for mean pooling over one layer and for
the token states a trained pooling head reads; with the backbone not trained no graph is built at all.

transformers' Llama computes its RMSNorm in float32 whatever the model's dtype, which would put float32 rounding
into the finite differences: here it runs in the model's dtype (the same formula)."""

import pytest
import torch

from rwkv_mteb.backbones import load_backbone
from rwkv_mteb.layerwise.encoder import LayerwiseEncoder
from rwkv_mteb.rwkv.checkpoint import make_checkpoint

TEXTS = ["a short one", "and a somewhat longer second sentence"]


def rms_norm_in_its_own_dtype(self, hidden):
    variance = hidden.pow(2).mean(-1, keepdim=True)
    return self.weight * (hidden * torch.rsqrt(variance + self.variance_epsilon))


@pytest.fixture(scope="module", params=["rwkv6", "rwkv7", "llama"])
def backbone(request, tmp_path_factory, tiny_llama):
    if request.param == "llama":
        from transformers.models.llama.modeling_llama import LlamaRMSNorm

        patch = pytest.MonkeyPatch()
        patch.setattr(LlamaRMSNorm, "forward", rms_norm_in_its_own_dtype)
        request.addfinalizer(patch.undo)
        made = load_backbone("transformers", tiny_llama)
    else:
        folder = tmp_path_factory.mktemp(request.param)
        path = make_checkpoint(folder, layers=2, hidden=64, head_size=32, vocab=256, seed=1, arch=request.param)
        made = load_backbone(request.param, path)
    return made.double()


def probe_of(encoder: LayerwiseEncoder) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(len(TEXTS), encoder.get_embedding_dimension(), generator=generator, dtype=torch.float64)


def scalar(encoder: LayerwiseEncoder, probe: torch.Tensor) -> torch.Tensor:
    features = encoder.preprocess(TEXTS)
    return (encoder(features)["sentence_embedding"] * probe).sum()


def checked_entries(backbone, count: int = 4) -> list[tuple[str, torch.nn.Parameter, tuple[int, ...]]]:
    """A few entries of every third weight tensor: embeddings, mixing, decay, projections, norms."""
    generator = torch.Generator().manual_seed(1)
    entries = []
    for i, (name, param) in enumerate(backbone.named_parameters()):
        if i % 3 == 0:
            for _ in range(count):
                flat = int(torch.randint(param.numel(), (1,), generator=generator))
                index = torch.unravel_index(torch.tensor(flat), param.shape)
                entries.append((name, param, tuple(int(x) for x in index)))
    return entries


def test_gradient_equals_finite_differences(backbone):
    encoder = LayerwiseEncoder(backbone, layers=[backbone.num_hidden_states - 1], cache=False)
    probe = probe_of(encoder)
    backbone.differentiable = True
    try:
        backbone.zero_grad()
        scalar(encoder, probe).backward()
        entries = checked_entries(backbone)
        assert len(entries) >= 12
        reached = 0
        for name, param, index in entries:
            analytic = param.grad[index].item() if param.grad is not None else 0.0
            eps = 1e-6
            with torch.no_grad():
                original = param[index].item()
                param[index] = original + eps
                up = scalar(encoder, probe).item()
                param[index] = original - eps
                down = scalar(encoder, probe).item()
                param[index] = original
            numeric = (up - down) / (2 * eps)
            assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-8), (name, index)
            reached += abs(numeric) > 1e-8
        assert reached >= len(entries) // 2  # the check saw real gradients, not zeros equal to zeros
    finally:
        backbone.differentiable = False


def test_token_states_are_differentiable_and_match_the_pooled_path(backbone):
    ids = backbone.tokenizer(TEXTS)
    layer = backbone.num_hidden_states - 1
    backbone.differentiable = True
    try:
        hidden, mask = backbone.token_batch(ids, layer)
        assert hidden.requires_grad and hidden.dtype == torch.float64
        mean = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        pooled = backbone.pooled(ids, [layer], "mean")[:, 0]
        torch.testing.assert_close(mean, pooled, rtol=1e-9, atol=1e-12)
    finally:
        backbone.differentiable = False


def test_a_backbone_not_in_training_builds_no_graph(backbone):
    encoder = LayerwiseEncoder(backbone, layers=[1], cache=False)
    with torch.enable_grad():
        out = encoder(encoder.preprocess(TEXTS))["sentence_embedding"]
        hidden, _ = backbone.token_batch(backbone.tokenizer(TEXTS), 1)
    assert not out.requires_grad and not hidden.requires_grad
