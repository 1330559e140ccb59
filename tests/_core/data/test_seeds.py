"""Child seeds from every kind of ``random_seed`` a user passes."""

import numpy as np
import pytest

from pmfisher._core.data.seeds import child_seeds


def _states(seeds):
    return [tuple(seed.generate_state(2)) for seed in seeds]


@pytest.mark.parametrize("seed", [5, np.random.SeedSequence(5)], ids=["int", "SeedSequence"])
def test_children_are_those_of_numpy_spawn(seed):
    assert _states(child_seeds(seed, 3)) == _states(np.random.SeedSequence(5).spawn(3))


def test_one_more_child_leaves_the_first_ones_unchanged():
    assert _states(child_seeds(9, 4))[:3] == _states(child_seeds(9, 3))


def test_a_generator_gives_its_own_sequence_children_and_advances():
    generator = np.random.default_rng(5)
    first, second = child_seeds(generator, 2), child_seeds(generator, 2)
    assert _states(first) == _states(np.random.SeedSequence(5).spawn(2))
    assert set(_states(first)).isdisjoint(_states(second))


def test_none_gives_fresh_entropy():
    assert _states(child_seeds(None, 1)) != _states(child_seeds(None, 1))
