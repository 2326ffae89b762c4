"""Generate ``hash_v1.json`` from the documented recipe, independently of ``assay``'s code.

Run once when the version was released; a released file never changes (the tests pin its
SHA-256). It uses only ``hashlib`` and the recipe in ``docs/assignment.md``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

SALTS = ["exp_button_color_v1", "", "säl t", "emoji😀salt", "quote'salt", "layer:checkout",
         "exp_button_color_v1:traffic"]
UNITS = ["user_1", "12345", "", "Ünïcødé", "e\u0301", "\u00e9", "用户-42", "😀🚀👩‍👩‍👧",
         "a" * 1000, "x" * 10_000, " leading space", "tab\tid", "new\nline", "O'Brien",
         "0", "-7", "user_2", "user_3", "Z" * 257]
WEIGHTS = {"two_equal": ([1, 1], ["control", "treatment"]),
           "three_equal": ([1, 1, 1], ["a", "b", "c"]),
           "one_to_three": ([1, 3], ["control", "treatment"]),
           "ten_ninety": ([0.1, 0.9], ["control", "treatment"]),
           "fifty_thirty_twenty": ([50, 30, 20], ["a", "b", "c"])}


def bucket(salt: str, unit: str) -> int:
    digest = hashlib.md5((salt + ":" + unit).encode("utf-8")).hexdigest()
    return int(digest[:8], 16) % 10_000


def variant(b: int, weights: list[float], names: list[str]) -> str | None:
    n, top = len(weights), max(weights)
    for i, (w, name) in enumerate(zip(weights, names, strict=True)):
        start = i * 10_000 // n
        if start <= b < start + int(10_000 // n * w / top + 1e-9):
            return name
    return None


def main() -> None:
    cases = []
    for salt in SALTS:
        for unit in UNITS:
            b = bucket(salt, unit)
            cases.append({
                "salt": salt, "unit_id": unit,
                "utf8_hex": (salt + ":" + unit).encode("utf-8").hex() if len(unit) < 64 else None,
                "md5_hex": hashlib.md5((salt + ":" + unit).encode("utf-8")).hexdigest(),
                "bucket": b,
                "variants": {k: variant(b, w, n) for k, (w, n) in WEIGHTS.items()},
            })
    doc = {"hash_version": 1, "buckets": 10_000,
           "recipe": "bucket = int(md5(utf8(salt + ':' + unit_id)).hexdigest()[:8], 16) % 10000",
           "layout": "anchored slots: variant i owns [i*10000//n, i*10000//n + "
                     "floor((10000//n) * w_i / max(w))) of the variant bucket",
           "weights": {k: {"weights": w, "names": n} for k, (w, n) in WEIGHTS.items()},
           "cases": cases}
    out = Path(__file__).with_name("hash_v1.json")
    out.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
