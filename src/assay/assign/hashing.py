"""Hash version 1: the salted hash of a unit id to a bucket in ``[0, 10000)``.

The exact recipe (documented in ``docs/assignment.md`` so any team can reimplement it):

1. ``text = salt + ":" + unit_id`` where ``unit_id`` is the id as a string (integers in plain
   decimal, no sign padding); ``salt`` is the experiment's salt (or a derived salt, below).
2. ``digest = MD5(UTF-8 bytes of text)`` (16 bytes).
3. ``h = `` the first 4 bytes of ``digest`` read as a big-endian unsigned 32-bit integer
   (equivalently: the first 8 characters of the lowercase hex digest, read as base 16).
4. ``bucket = h mod 10000``.

MD5 is chosen because every engine computes it natively over UTF-8 strings (DuckDB, PostgreSQL,
Spark, BigQuery, Snowflake, Trino): no UDFs. Its output bits are uniform for this use (we need
uniformity and independence across salts, not collision resistance). The modulo bias is
``(2**32 mod 10000) / 2**32 < 1.7e-6`` per bucket: far below anything an SRM test can detect.

Derived salts keep the gates independent of the variant split (see :mod:`assay.assign.layout`):
traffic uses ``salt + ":traffic"``, layers use ``"layer:" + layer`` and rollout flags use
``"flag:" + name``.

A released version never changes: a new recipe would be ``HASH_VERSION = 2`` alongside.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

HASH_VERSION = 1
BUCKETS = 10_000
SEPARATOR = ":"
NUMPY_MIN_BATCH = 256

try:  # CPython's built-in MD5 is about twice as fast as OpenSSL's for short inputs
    from _md5 import md5 as _md5
except ImportError:  # pragma: no cover (other interpreters)
    _md5 = hashlib.md5


def unit_text(unit_id: str | int) -> str:
    """The canonical text of a unit id (strings as is, integers in decimal).

    Raises:
        TypeError: For other types (a float id would render differently across engines).
    """
    if isinstance(unit_id, str):
        return unit_id
    if isinstance(unit_id, int) and not isinstance(unit_id, bool):
        return str(unit_id)
    raise TypeError(f"unit ids are strings or integers, got {type(unit_id).__name__}")


def hash_input(salt: str, unit_id: str | int) -> bytes:
    """The exact bytes hashed for ``(salt, unit_id)``: UTF-8 of ``salt:unit_id``."""
    return (salt + SEPARATOR + unit_text(unit_id)).encode("utf-8")


def hash32(salt: str, unit_id: str | int) -> int:
    """The unsigned 32-bit integer of step 3 (before the modulo)."""
    return int.from_bytes(_md5(hash_input(salt, unit_id)).digest()[:4], "big")


def bucket(salt: str, unit_id: str | int) -> int:
    """The bucket in ``[0, 10000)`` of ``unit_id`` under ``salt`` (hash version 1)."""
    return hash32(salt, unit_id) % BUCKETS


class SaltedHasher:
    """A salt prepared once for the hot path: the salt's bytes are encoded a single time.

    Example:
        >>> SaltedHasher("exp").bucket("user-1") == bucket("exp", "user-1")
        True
    """

    __slots__ = ("prefix", "salt")

    def __init__(self, salt: str) -> None:
        self.salt = salt
        self.prefix = (salt + SEPARATOR).encode("utf-8")

    def bucket(self, unit_id: str) -> int:
        """Bucket of one unit id (a ``str``; use :func:`unit_text` for integers)."""
        return int.from_bytes(_md5(self.prefix + unit_id.encode("utf-8")).digest()[:4],
                              "big") % BUCKETS

    def buckets(self, unit_ids: Iterable[str | int]) -> npt.NDArray[np.int32]:
        """Buckets of many unit ids as an ``int32`` array (one MD5 per id, then numpy)."""
        return self.buckets_of_text([u if type(u) is str else unit_text(u) for u in unit_ids])

    def buckets_of_text(self, unit_ids: list[str]) -> npt.NDArray[np.int32]:
        """:meth:`buckets` for a list of ``str`` (the batch hot path: no type checks).

        Batches of at least :data:`NUMPY_MIN_BATCH` ids run MD5 in numpy
        (:mod:`assay.assign.md5np`); smaller ones call ``hashlib`` per id.
        """
        if len(unit_ids) >= NUMPY_MIN_BATCH:
            from assay.assign.md5np import first_words

            return (first_words(self.prefix, unit_ids) % BUCKETS).astype(np.int32)
        prefix, md5 = self.prefix, _md5
        digests = b"".join([md5(prefix + u.encode("utf-8")).digest() for u in unit_ids])
        words = np.frombuffer(digests, dtype=">u4")[::4]
        return (words % BUCKETS).astype(np.int32)


def buckets(salt: str, unit_ids: Sequence[str | int] | Iterable[str | int]
            ) -> npt.NDArray[np.int32]:
    """Vectorised :func:`bucket` over many ids."""
    return SaltedHasher(salt).buckets(unit_ids)


def traffic_salt(salt: str) -> str:
    """Salt of the traffic gate, independent of the variant split."""
    return salt + ":traffic"


def layer_salt(layer: str) -> str:
    """Salt of a layer's shared hash (every experiment of the layer uses it)."""
    return "layer:" + layer


def flag_salt(name: str) -> str:
    """Salt of a rollout flag."""
    return "flag:" + name
