"""Seeding: root seed -> blocks of replications -> one named stream per random process.

Replication ``i`` belongs to block ``i // BLOCK_SIZE`` at column ``i % BLOCK_SIZE``. Every block has,
for every random process (``"tension"``, ``"violations/regime"``, ...), its own PCG64 generator derived
from ``SeedSequence(root_seed, spawn_key=(block, process_key(name)))``.

Where each number lies in that generator's sequence of uniforms is fixed by (draw, column) alone:
the draws of a stream come in groups of ``STEPS_PER_DRAW`` consecutive calls; group ``g`` occupies
positions ``g * BLOCK_SIZE * STEPS_PER_DRAW`` onwards, column by column, ``STEPS_PER_DRAW`` values per
column. So the ``t``-th call of a stream gives column ``c`` the uniform at position

    (t // STEPS_PER_DRAW) * BLOCK_SIZE * STEPS_PER_DRAW + c * STEPS_PER_DRAW + t % STEPS_PER_DRAW.

A batch generates only the columns it uses, up to the last one it still simulates, and skips the rest
of each group with PCG64's ``advance``: replication ``i`` gets exactly the same numbers whether its block
is full, partial or thinned by ``select``, so results do not depend on the run's size, on how blocks are
grouped into tasks, or on which other replications have ended (common random numbers by construction).
Every value costs one uniform: normal variates are the inverse normal CDF of their uniform
(``scipy.special.ndtri``), never numpy's ziggurat, whose number of draws per value varies.
``BLOCK_SIZE`` and ``STEPS_PER_DRAW`` are part of the seeding contract: changing either changes every result.
"""

from __future__ import annotations

import hashlib

import numpy as np

BLOCK_SIZE = 1000
STEPS_PER_DRAW = 8        # calls of a stream generated at once (fewer generator calls per step)
SINGLE_REPLICATION_TAG = 0x51_4E_47  # separates batch-size-1 streams from block streams
_SMALLEST_UNIFORM = 2.0 ** -54       # a uniform of exactly 0 would be an infinite normal


def process_key(name: str) -> int:
    """A stable 32-bit integer for a process name (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


def blocks_for(runs: int, first: int = 0) -> list[tuple[int, int]]:
    """(block index, replications used in it) covering replications first .. first+runs-1.

    ``first`` must be a multiple of BLOCK_SIZE (adaptive comparisons add whole blocks).
    """
    if first % BLOCK_SIZE:
        raise ValueError("first replication must start a block")
    out = []
    start = first
    while start < first + runs:
        size = min(BLOCK_SIZE, first + runs - start)
        out.append((start // BLOCK_SIZE, size))
        start += size
    return out


def _spawn_key(block) -> tuple[int, ...]:
    return tuple(block) if isinstance(block, tuple) else (int(block),)


def normal_from_uniform(u: np.ndarray) -> np.ndarray:
    """Standard normal variates by inversion (scipy's ``ndtri``): one uniform per value."""
    from sim.lightimport import special_functions   # here: processes that never draw need not import scipy
    return special_functions().ndtri(np.maximum(u, _SMALLEST_UNIFORM))


class _Stream:
    """One process's generators (one per block) and its current group of draws."""

    __slots__ = ("gens", "pos", "group", "cache", "row")

    def __init__(self, n_blocks: int):
        self.gens: list[np.random.Generator | None] = [None] * n_blocks
        self.pos = [0] * n_blocks       # uniforms consumed by each block's generator so far
        self.group = 0                  # next group of STEPS_PER_DRAW calls to generate
        self.cache: np.ndarray | None = None   # (STEPS_PER_DRAW, replications) uniforms of the current group
        self.row = STEPS_PER_DRAW       # next row of the cache to hand out


class BlockStreams:
    """Named streams for a batch made of one or more blocks (concatenated in the given order).

    A block is named by an int (the blocks of a run) or a tuple of ints (e.g. a sweep point's
    blocks); its name and the process name make the stream's ``spawn_key``. ``values_drawn`` and
    ``values_used`` count the uniforms generated and handed out. Every unused one belongs to a replication
    dropped by ``select``: ``values_in_gaps`` counts those generated because they lie between the columns still
    simulated (one call per block costs less than skipping them), and the rest were generated for a replication
    that was dropped before the end of the group of ``STEPS_PER_DRAW`` calls they belonged to.
    """

    def __init__(self, seed: int, blocks: list[tuple[int | tuple[int, ...], int]]):
        if seed is None or seed < 0:
            raise ValueError("seed must be a non-negative integer")
        self.seed = int(seed)
        self.blocks = list(blocks)
        for _, n in self.blocks:
            if not 0 < n <= BLOCK_SIZE:
                raise ValueError(f"a block holds 1 to {BLOCK_SIZE} replications, not {n}")
        self.size = sum(n for _, n in self.blocks)
        # the columns still simulated, per block (blocks with none left are dropped from ``_live``)
        self._live = list(range(len(self.blocks)))
        self._cols = [np.arange(n) for _, n in self.blocks]
        self._streams: dict[str, _Stream] = {}
        self.values_drawn = 0
        self.values_used = 0
        self.values_in_gaps = 0
        self._lay_out()

    def _lay_out(self) -> None:
        """What each refill generates, from the live blocks and columns: per live block the count of uniforms
        (up to its last live column) and where they go in one buffer; and which of the buffer's columns are
        handed out (None: all of them, in order)."""
        k = STEPS_PER_DRAW
        counts = [(int(self._cols[b][-1]) + 1) * k for b in self._live]
        offsets = np.cumsum([0, *counts]).tolist()
        self._fill = list(zip(self._live, counts, offsets[:-1], offsets[1:]))
        self._drawn_per_refill = offsets[-1]
        self._gaps_per_refill = offsets[-1] - k * sum(self._cols[b].size for b in self._live)
        if all(self._cols[b].size * k == m for b, m in zip(self._live, counts)):
            self._gather = None
        else:
            self._gather = np.concatenate([offsets[j] // k + self._cols[b] for j, b in enumerate(self._live)])

    def _generator(self, name: str, b: int) -> np.random.Generator:
        key = process_key(name)
        return np.random.Generator(np.random.PCG64(
            np.random.SeedSequence(self.seed, spawn_key=(*_spawn_key(self.blocks[b][0]), key))))

    def _refill(self, name: str, st: _Stream) -> None:
        k = STEPS_PER_DRAW
        start = st.group * BLOCK_SIZE * k
        st.group += 1
        buffer = np.empty(self._drawn_per_refill)
        gens, pos = st.gens, st.pos
        for b, m, lo, hi in self._fill:
            gen = gens[b]
            if gen is None:
                gen = gens[b] = self._generator(name, b)
            skip = start - pos[b]
            if skip:
                gen.bit_generator.advance(skip)
            gen.random(out=buffer[lo:hi])
            pos[b] = start + m
        self.values_drawn += self._drawn_per_refill
        self.values_in_gaps += self._gaps_per_refill
        columns = buffer.reshape(-1, k)
        if self._gather is not None:
            columns = columns[self._gather]
        st.cache = np.ascontiguousarray(columns.T)
        st.row = 0

    def _next(self, name: str) -> np.ndarray:
        st = self._streams.get(name)
        if st is None:
            st = self._streams[name] = _Stream(len(self.blocks))
        if st.row >= STEPS_PER_DRAW:
            self._refill(name, st)
        out = st.cache[st.row]
        st.row += 1
        self.values_used += out.size
        return out

    def select(self, keep: np.ndarray) -> None:
        """Go on drawing for the replications ``keep`` (sorted indices into the current ones) only.

        Each remaining replication goes on getting exactly the numbers it would have got without the
        selection (its positions in its block's sequence do not move); blocks left with no replication
        are never drawn from again, and the columns after a block's last remaining one are skipped.
        """
        keep = np.asarray(keep, dtype=np.int64)
        sizes = [self._cols[b].size for b in self._live]
        bounds = np.cumsum([0, *sizes])
        live, cols = [], list(self._cols)
        for j, b in enumerate(self._live):
            lo, hi = np.searchsorted(keep, bounds[j]), np.searchsorted(keep, bounds[j + 1])
            if hi == lo:
                continue
            live.append(b)
            cols[b] = self._cols[b][keep[lo:hi] - bounds[j]]
        self._live, self._cols = live, cols
        self._lay_out()
        for st in self._streams.values():
            if st.cache is not None and st.row < STEPS_PER_DRAW:
                st.cache = np.ascontiguousarray(st.cache[:, keep])
            else:
                st.cache, st.row = None, STEPS_PER_DRAW
        self.size = int(keep.size)

    def uniform(self, name: str) -> np.ndarray:
        """One uniform in [0, 1) per replication: the stream's next draw (read-only view)."""
        return self._next(name)

    def normal(self, name: str) -> np.ndarray:
        """One standard normal per replication, by inversion of the stream's next uniforms."""
        return normal_from_uniform(self._next(name))


class SingleReplicationStreams:
    """Batch size 1, the classic one-model-per-replication way (for the benchmark and its check).

    It draws differently from :class:`BlockStreams`; its results agree only statistically.
    """

    def __init__(self, seed: int, replication: int):
        self.seed = int(seed)
        self.replication = int(replication)
        self.size = 1
        self._generators: dict[str, np.random.Generator] = {}

    def _gen(self, name: str) -> np.random.Generator:
        gen = self._generators.get(name)
        if gen is None:
            ss = np.random.SeedSequence(self.seed, spawn_key=(SINGLE_REPLICATION_TAG, self.replication, process_key(name)))
            gen = self._generators[name] = np.random.Generator(np.random.PCG64(ss))
        return gen

    def uniform(self, name: str) -> np.ndarray:
        return self._gen(name).random(1)

    def normal(self, name: str) -> np.ndarray:
        return normal_from_uniform(self._gen(name).random(1))
