"""Seeding: root seed -> blocks of replications -> one named stream per random process.

Replication ``i`` belongs to block ``i // BLOCK_SIZE`` at column ``i % BLOCK_SIZE``. Every block has,
for every random process (``"tension"``, ``"violations/regime"``, ...), its own generator derived from
``SeedSequence(root_seed, spawn_key=(block, hash(process name)))``. Each step, every stream draws a
full block of standard variates whatever the parameters, so replication ``i`` of any two scenarios
sees the same numbers for the same process (common random numbers), and changing one process's
parameters never shifts another's draws. ``BLOCK_SIZE`` is part of the seeding contract: changing
it changes every result.
"""

from __future__ import annotations

import hashlib

import numpy as np

BLOCK_SIZE = 1000
SINGLE_REPLICATION_TAG = 0x51_4E_47  # separates batch-size-1 streams from block streams


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


class BlockStreams:
    """Named streams for a batch made of one or more blocks (concatenated in the given order).

    A block is named by an int (the blocks of a run) or a tuple of ints (e.g. a sweep point's
    blocks); its name and the process name make the stream's ``spawn_key``.
    """

    def __init__(self, seed: int, blocks: list[tuple[int | tuple[int, ...], int]]):
        if seed is None or seed < 0:
            raise ValueError("seed must be a non-negative integer")
        self.seed = int(seed)
        self.blocks = list(blocks)
        self.size = sum(n for _, n in self.blocks)
        self._generators: dict[str, list[np.random.Generator]] = {}
        self._selection: np.ndarray | None = None   # replications still simulated (see ``select``)

    def _gens(self, name: str) -> list[np.random.Generator]:
        gens = self._generators.get(name)
        if gens is None:
            key = process_key(name)
            gens = [np.random.Generator(np.random.PCG64(
                np.random.SeedSequence(self.seed, spawn_key=(*_spawn_key(b), key)))) for b, _ in self.blocks]
            self._generators[name] = gens
        return gens

    def _draw(self, name: str, method: str) -> np.ndarray:
        gens = self._gens(name)
        if len(gens) == 1:
            out = getattr(gens[0], method)(BLOCK_SIZE)[: self.blocks[0][1]]
        else:
            out = np.concatenate([getattr(g, method)(BLOCK_SIZE)[:n] for g, (_, n) in zip(gens, self.blocks)])
        return out if self._selection is None else out[self._selection]

    def select(self, keep: np.ndarray) -> None:
        """Go on drawing for the replications ``keep`` (indices into the current ones) only.

        Every stream still draws its full blocks, so each remaining replication gets exactly the numbers it
        would have got without the selection: stopping replications that have ended changes no result.
        """
        keep = np.asarray(keep)
        self._selection = keep if self._selection is None else self._selection[keep]
        self.size = int(keep.size)

    def uniform(self, name: str) -> np.ndarray:
        return self._draw(name, "random")

    def normal(self, name: str) -> np.ndarray:
        return self._draw(name, "standard_normal")


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
        return self._gen(name).standard_normal(1)
