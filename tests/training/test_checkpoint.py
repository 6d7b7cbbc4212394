"""Do checkpoints round-trip every piece of training state, and refuse bad files clearly?"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from fundiff.models import ClassConditionalUNet
from fundiff.training import checkpoint as ckpt
from fundiff.training.config import recipe


def _state() -> ckpt.TrainingState:
    torch.manual_seed(0)
    config = recipe("flow-class", hidden=4, epochs=3, ema_decay=0.9)
    model = ClassConditionalUNet(hidden=4)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=config.gamma)
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.9), use_buffers=True)
    x, t = torch.randn(4, 1, 28, 28), torch.rand(4)
    c = torch.eye(10)[:4]
    model(x, t, c).square().mean().backward()
    opt.step()
    sched.step()
    ema.update_parameters(model)
    gen = torch.Generator().manual_seed(5)
    torch.rand(3, generator=gen)
    return ckpt.TrainingState(
        config=config, epoch=1, step=7, model=model.state_dict(), optimizer=opt.state_dict(),
        scheduler=sched.state_dict(), ema=ema.state_dict(), rng=gen.get_state(),
    )  # fmt: skip


def test_round_trip_keeps_every_piece(tmp_path: Path) -> None:
    """Does load(save(s)) give back config, counters, weights, Adam, schedule, EMA and RNG?"""
    s = _state()
    ckpt.save(tmp_path / "c.safetensors", s)
    r = ckpt.load(tmp_path / "c.safetensors")
    assert (r.config, r.epoch, r.step) == (s.config, s.epoch, s.step)
    for a, b in ((s.model, r.model), (s.ema, r.ema)):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert r.scheduler == s.scheduler
    for idx, slots in s.optimizer["state"].items():
        for key, value in slots.items():
            assert torch.equal(torch.as_tensor(value), r.optimizer["state"][idx][key])
    model = ClassConditionalUNet(hidden=4)
    opt = torch.optim.Adam(model.parameters(), lr=1.0)
    opt.load_state_dict(r.optimizer)
    assert opt.param_groups[0]["lr"] == s.optimizer["param_groups"][0]["lr"]
    g = torch.Generator()
    g.set_state(r.rng)
    h = torch.Generator()
    h.set_state(s.rng)
    assert torch.equal(torch.rand(4, generator=g), torch.rand(4, generator=h))


def test_save_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If writing fails midway, is the old checkpoint intact and no temporary file left?"""
    path = tmp_path / "c.safetensors"
    ckpt.save(path, _state())
    before = path.read_bytes()

    def broken(*args: object, **kwargs: object) -> None:
        Path(args[1]).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt, "save_file", broken)
    with pytest.raises(OSError):
        ckpt.save(path, _state())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.safetensors"]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "missing"])
def test_damaged_files_raise_one_line_errors(tmp_path: Path, damage: str) -> None:
    """Is a truncated, garbled or missing checkpoint a CheckpointError naming the file?"""
    path = tmp_path / "c.safetensors"
    ckpt.save(path, _state())
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00\x01not a checkpoint" * 10)
    else:
        path.unlink()
    with pytest.raises(ckpt.CheckpointError) as info:
        ckpt.load(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_foreign_safetensors_is_not_a_checkpoint(tmp_path: Path) -> None:
    """Is a valid safetensors file without fundiff metadata refused as 'not a fundiff checkpoint'?"""
    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(ckpt.CheckpointError, match="not a fundiff checkpoint"):
        ckpt.load(path)
