"""Child seeds from whatever a user passes as ``random_seed``."""

from __future__ import annotations

import numpy as np

__all__ = ["child_seeds"]


def child_seeds(random_seed, count: int) -> list[np.random.SeedSequence]:
    """``count`` independent child seeds of ``random_seed``: ``None`` (fresh entropy), an
    int, a :class:`numpy.random.SeedSequence` or a :class:`numpy.random.Generator` (the seed
    sequence behind it). A ``SeedSequence`` or ``Generator`` spawns from its own counter,
    as NumPy's ``spawn`` does, so passing the same one again gives new children.

    Child ``i`` of an int or a ``SeedSequence`` is the same whatever ``count`` is, so a
    caller that asks for one more child than its tasks gets the tasks' seeds unchanged.

    Examples
    --------
    >>> first = child_seeds(1, 3)
    >>> [seed.spawn_key for seed in first]
    [(0,), (1,), (2,)]
    >>> child_seeds(1, 4)[2].generate_state(1) == first[2].generate_state(1)
    array([ True])
    """
    if isinstance(random_seed, np.random.Generator):
        return random_seed.bit_generator.seed_seq.spawn(count)
    if not isinstance(random_seed, np.random.SeedSequence):
        random_seed = np.random.SeedSequence(random_seed)
    return random_seed.spawn(count)
