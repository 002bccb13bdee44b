"""Tensors crossing between processes packed: one flat tensor per dtype.

A worker's result (its weights, a checkpoint to continue from) and a candidate's starting state
cross as a :class:`Packed` value, not as the 200+ tensors of a state dict, each of which would
be a shared-memory file of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, NamedTuple, Tuple

from .candidate import Result


class _Slot(NamedTuple):
    """Where one tensor of a :class:`Packed` structure lies in its dtype's flat tensor."""

    dtype: str
    offset: int
    shape: Tuple[int, ...]


@dataclass(frozen=True)
class Packed:
    """A nested structure (dicts, lists, tuples) of CPU tensors as one flat tensor per dtype plus
    the structure with :class:`_Slot` s in the tensors' places: a few tensors to send between
    processes however many the structure holds. :meth:`unpack` gives views into the flat tensors."""

    flats: Dict[str, Any]
    tree: Any

    @classmethod
    def pack(cls, obj) -> "Packed":
        import torch

        parts: Dict[str, List[Any]] = {}
        sizes: Dict[str, int] = {}
        seen: Dict[int, _Slot] = {}

        def walk(o):
            if isinstance(o, torch.Tensor):
                slot = seen.get(id(o))
                if slot is None:  # one tensor referenced twice is packed once
                    key = str(o.dtype)[6:]  # "torch.float32" -> "float32"
                    t = o.detach()
                    if t.device.type != "cpu":
                        t = t.cpu()
                    slot = seen[id(o)] = _Slot(key, sizes.get(key, 0), tuple(o.shape))
                    parts.setdefault(key, []).append(t.reshape(-1))
                    sizes[key] = slot.offset + t.numel()
                return slot
            if isinstance(o, dict):
                return {k: walk(v) for k, v in o.items()}
            if isinstance(o, (list, tuple)) and not isinstance(o, _Slot):
                return type(o)(walk(v) for v in o)
            return o

        tree = walk(obj)
        return cls({k: torch.cat(v) for k, v in parts.items()}, tree)

    def unpack(self):
        def walk(o):
            if isinstance(o, _Slot):
                n = 1
                for d in o.shape:
                    n *= d
                return self.flats[o.dtype][o.offset:o.offset + n].view(o.shape)
            if isinstance(o, dict):
                return {k: walk(v) for k, v in o.items()}
            if isinstance(o, (list, tuple)):
                return type(o)(walk(v) for v in o)
            return o

        return walk(self.tree)


PACKED_FIELDS = ("state", "checkpoint")  # the tensors of a result


def pack_result(result: Result) -> Result:
    return {k: Packed.pack(v) if k in PACKED_FIELDS and v is not None else v for k, v in result.items()}


def unpack_result(result: Result) -> Result:
    return {k: v.unpack() if isinstance(v, Packed) else v for k, v in result.items()}
