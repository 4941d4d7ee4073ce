#!/usr/bin/python3
"""Loads a merged model that `slimtune export --format hf` wrote into the PyTorch reference of
gen_models.py (its own safetensors reader and forward pass, float64) and checks its logits
against the golden of gen_export.py: the exported files mean, to an independent reader, the
model PyTorch's merge of the adapter makes.

    /usr/bin/python3 tests/reference/check_merged_export.py EXPORT_DIR GOLDEN.safetensors

Prints the largest logit error relative to the largest golden logit; exits 1 above 1e-5, 77
(CTest's skip) when the system interpreter has no PyTorch (scripts/install-deps.sh --reference).
"""
import json
import sys
from pathlib import Path

try:
    import torch
except ImportError:
    print("check_merged_export.py: skipped: /usr/bin/python3 has no torch "
          "(scripts/install-deps.sh --reference installs it)")
    sys.exit(77)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_models import forward, load_checkpoint  # noqa: E402
from gen_ops import decode_safetensors  # noqa: E402

TOLERANCE = 1e-5


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    export_dir, golden_path = Path(argv[1]), Path(argv[2])
    cfg = json.loads((export_dir / "config.json").read_text())
    files = {p.name: p.read_bytes() for p in export_dir.iterdir()
             if p.name.endswith(".safetensors") or p.name == "model.safetensors.index.json"}
    a, W = load_checkpoint(files, cfg)
    golden, _ = decode_safetensors(golden_path.read_bytes())
    ids = torch.tensor(golden["tokens"].tolist(), dtype=torch.int64)
    want = torch.tensor(golden["logits"].copy())
    got = forward(a, W, ids)
    err = ((got - want).abs().max() / want.abs().max()).item()
    ok = err <= TOLERANCE
    print("%s: PyTorch logits of the exported files vs the golden merge: max error %.2e of the "
          "largest logit (limit %.0e) %s" % (export_dir, err, TOLERANCE, "ok" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
