"""The resume callbacks: the GRPO sampler's order depends on the epoch alone, wherever accelerate wraps it."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from accelerate.data_loader import prepare_data_loader
from trl.trainer.grpo_trainer import RepeatSampler

from balancedbio.train.resume_callbacks import (
    EpochSeedCallback,
    LogAtSaveCallback,
    epoch_seed,
    seeded_samplers,
)


def _loader(seed: int = 5):
    data = list(range(12))
    sampler = RepeatSampler(data, mini_repeat_count=2, batch_size=4, seed=seed)
    dl = torch.utils.data.DataLoader(data, batch_size=8, sampler=sampler)
    return prepare_data_loader(dl, device=torch.device("cpu"), num_processes=1, process_index=0,
                               put_on_device=False), sampler


def _epoch(dl, cb, epoch: float):
    cb.on_epoch_begin(None, SimpleNamespace(epoch=epoch), None, train_dataloader=dl)
    return [int(i) for batch in dl for i in batch]


def test_the_sampler_is_found_through_accelerate():
    dl, sampler = _loader()
    assert type(dl).__name__ != "DataLoader"              # accelerate's wrapper, not the plain loader
    assert seeded_samplers(dl) == [sampler]
    assert seeded_samplers(torch.utils.data.DataLoader(list(range(4)))) == []


def test_order_is_a_function_of_the_epoch():
    cb = EpochSeedCallback()
    straight, _ = _loader()
    orders = [_epoch(straight, cb, float(e)) for e in range(3)]
    assert orders[0] != orders[1] != orders[2]             # a fresh permutation per epoch
    resumed, _ = _loader()                                  # a new sampler, as a resumed run builds
    assert _epoch(resumed, cb, 2.0) == orders[2]
    assert _epoch(resumed, cb, 1.0 - 1e-9) == orders[1]    # float progress just under a whole epoch

    plain, _ = _loader()                                    # epoch 0 is TRL's own order
    assert [int(i) for batch in plain for i in batch] == orders[0]
    assert epoch_seed(5, 0) == 5 and epoch_seed(5, 1) != epoch_seed(5, 2)


def test_a_save_ends_the_log_window():
    cb = LogAtSaveCallback()
    control = SimpleNamespace(should_save=True, should_log=False)
    cb.on_step_end(None, None, control)
    assert control.should_log
    control = SimpleNamespace(should_save=False, should_log=False)
    cb.on_step_end(None, None, control)
    assert not control.should_log
