#!/usr/bin/python3
"""PyTorch reference for slimtune's optim/ layer: AdamW, SGD, LR schedules, gradient clipping.

Each optimizer case runs K steps of torch.optim (foreach=False, float32) on a few parameters of
different shapes, one of them without weight decay and one that has no gradient (p.grad is
None) on some steps. Before each step the given random gradients are clipped with
torch.nn.utils.clip_grad_norm_ (unless the case has no clipping), and the lr comes from a
LambdaLR on the transformers-style lambdas below. Writes tests/golden/optim/<case>.safetensors:

  init.<p>           F32  initial parameter
  grad.<k>.<p>       F32  raw gradient of step k (0-based); absent when p.grad is None
  clipped.<k>.<p>    F32  the gradient after clip_grad_norm_ (cases with clipping)
  param.<k>.<p>      F32  the parameter after step k
  lr                 F64  [K] lr of each step (param_groups[0]['lr'] before optimizer.step())
  grad_norm          F32  [K] clip_grad_norm_'s total norm (float32 in torch)
  grad_norm_exact    F64  [K] the same norm computed in float64
  state.<kind>.<p>   F32  optimizer.state after the last step (step, exp_avg, ...)

metadata "config": JSON with the optimizer, schedule and parameter settings.
schedules.safetensors holds, per schedule case, the lrs of 30 LambdaLR steps (F64) and the
configs in its "config" metadata. Deterministic; SHA256SUMS is written last. Run with the
system interpreter (torch 1.13):

    /usr/bin/python3 tests/reference/gen_optim.py [--out DIR]
"""

import argparse
import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_ops import encode_safetensors, write_atomic  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
K = 6
# name, shape, weight decay on, steps (0-based) on which p.grad is None
PARAMS = [
    ("w", [6, 7], True, []),
    ("bias", [7], False, []),
    ("big", [33, 35], True, []),
    ("sometimes", [3, 4], True, [1, 3]),
]
# Target global gradient norms per step: clipping is active on some steps, not on others.
GRAD_NORMS = [3.0, 0.5, 1.7, 0.2, 9.0, 0.8]


# transformers' schedules (optimization.py), with the min-lr floor of
# get_cosine_with_min_lr_schedule_with_warmup applied to linear and cosine.
def make_lambda(name, warmup, total, min_ratio):
    def warm(step):
        return float(step) / float(max(1, warmup))

    def constant(step):
        if step < warmup:
            return warm(step)
        return 1.0

    def linear(step):
        if step < warmup:
            return warm(step)
        decay = max(0.0, float(total - step) / float(max(1, total - warmup)))
        return decay * (1 - min_ratio) + min_ratio

    def cosine(step):
        if step < warmup:
            return warm(step)
        progress = float(step - warmup) / float(max(1, total - warmup))
        factor = 0.5 * (1.0 + math.cos(math.pi * float(0.5) * 2.0 * progress))
        return max(0, factor * (1 - min_ratio) + min_ratio)

    return {"constant": constant, "linear": linear, "cosine": cosine}[name]


OPT_CASES = [
    dict(case="adamw", optimizer=dict(name="adamw", lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8,
                                      weight_decay=0.1),
         schedule=dict(name="cosine", warmup_steps=2, min_lr_ratio=0.1), max_grad_norm=1.0),
    dict(case="adamw_noclip", optimizer=dict(name="adamw", lr=3e-3, beta1=0.8, beta2=0.95,
                                             eps=1e-6, weight_decay=0.05),
         schedule=dict(name="linear", warmup_steps=0, min_lr_ratio=0.0), max_grad_norm=0.0),
    dict(case="sgd_nesterov", optimizer=dict(name="sgd", lr=5e-2, momentum=0.9, dampening=0.0,
                                             nesterov=True, weight_decay=0.01),
         schedule=dict(name="linear", warmup_steps=1, min_lr_ratio=0.2), max_grad_norm=1.0),
    dict(case="sgd_dampening", optimizer=dict(name="sgd", lr=2e-2, momentum=0.8, dampening=0.3,
                                              nesterov=False, weight_decay=0.05),
         schedule=dict(name="constant", warmup_steps=2, min_lr_ratio=0.0), max_grad_norm=1.0),
    dict(case="sgd_plain", optimizer=dict(name="sgd", lr=1e-1, momentum=0.0, dampening=0.0,
                                          nesterov=False, weight_decay=0.02),
         schedule=dict(name="cosine", warmup_steps=0, min_lr_ratio=0.0), max_grad_norm=1.0),
]

SCHEDULE_CASES = [
    dict(case="constant_warmup", name="constant", warmup_steps=5, min_lr_ratio=0.0),
    dict(case="constant", name="constant", warmup_steps=0, min_lr_ratio=0.0),
    dict(case="linear_warmup", name="linear", warmup_steps=5, min_lr_ratio=0.0),
    dict(case="linear_floor", name="linear", warmup_steps=3, min_lr_ratio=0.2),
    dict(case="cosine_warmup", name="cosine", warmup_steps=5, min_lr_ratio=0.0),
    dict(case="cosine_floor", name="cosine", warmup_steps=0, min_lr_ratio=0.1),
    dict(case="cosine_long_warmup", name="cosine", warmup_steps=40, min_lr_ratio=0.0),
]
SCHEDULE_STEPS, SCHEDULE_BASE_LR = 30, 3e-4


def f32(t):
    return t.detach().numpy().astype(np.float32)


def run_optimizer_case(c, seed):
    g = torch.Generator().manual_seed(seed)
    params = [torch.randn(shape, generator=g).requires_grad_(True) for _, shape, _, _ in PARAMS]
    init = [p.detach().clone() for p in params]
    o = c["optimizer"]
    decay = [p for p, spec in zip(params, PARAMS) if spec[2]]
    no_decay = [p for p, spec in zip(params, PARAMS) if not spec[2]]
    groups = [dict(params=decay, weight_decay=o["weight_decay"]),
              dict(params=no_decay, weight_decay=0.0)]
    if o["name"] == "adamw":
        opt = torch.optim.AdamW(groups, lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"],
                                foreach=False)
    else:
        opt = torch.optim.SGD(groups, lr=o["lr"], momentum=o["momentum"],
                              dampening=o["dampening"], nesterov=o["nesterov"], foreach=False)
    s = c["schedule"]
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, make_lambda(s["name"], s["warmup_steps"], K, s["min_lr_ratio"]))

    tensors = [("init." + spec[0], "F32", f32(t)) for spec, t in zip(PARAMS, init)]
    lrs, norms, exact = [], [], []
    for k in range(K):
        opt.zero_grad(set_to_none=True)
        present = [(p, spec) for p, spec in zip(params, PARAMS) if k not in spec[3]]
        n_elems = sum(p.numel() for p, _ in present)
        for p, spec in present:
            p.grad = torch.randn(p.shape, generator=g) * (GRAD_NORMS[k] / math.sqrt(n_elems))
            tensors.append(("grad.%d.%s" % (k, spec[0]), "F32", f32(p.grad)))
        grads64 = [p.grad.double() for p, _ in present]
        exact.append(math.sqrt(sum(float((x * x).sum()) for x in grads64)))
        if c["max_grad_norm"] > 0:
            norm = torch.nn.utils.clip_grad_norm_([p for p, _ in present], c["max_grad_norm"])
            for p, spec in present:
                tensors.append(("clipped.%d.%s" % (k, spec[0]), "F32", f32(p.grad)))
        else:
            norm = torch.norm(torch.stack([torch.norm(p.grad, 2) for p, _ in present]), 2)
        norms.append(float(norm))
        lrs.append(opt.param_groups[0]["lr"])
        assert all(gr["lr"] == lrs[-1] for gr in opt.param_groups)
        opt.step()
        sched.step()
        for p, spec in zip(params, PARAMS):
            tensors.append(("param.%d.%s" % (k, spec[0]), "F32", f32(p)))
    for p, spec in zip(params, PARAMS):
        for kind, value in opt.state[p].items():
            if value is None:
                continue
            arr = f32(value.reshape(-1) if torch.is_tensor(value) else torch.tensor([value]))
            tensors.append(("state.%s.%s" % (kind, spec[0]), "F32", arr))
    tensors += [("lr", "F64", np.array(lrs)), ("grad_norm", "F32", np.array(norms)),
                ("grad_norm_exact", "F64", np.array(exact))]
    config = dict(c, steps=K, seed=seed,
                  params=[dict(name=n, shape=sh, weight_decay=wd, no_grad_steps=ng)
                          for n, sh, wd, ng in PARAMS])
    return tensors, config


def run_schedules():
    tensors, configs = [], {}
    for s in SCHEDULE_CASES:
        p = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([p], lr=SCHEDULE_BASE_LR)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, make_lambda(s["name"], s["warmup_steps"], SCHEDULE_STEPS, s["min_lr_ratio"]))
        lrs = []
        for _ in range(SCHEDULE_STEPS):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        tensors.append((s["case"], "F64", np.array(lrs)))
        configs[s["case"]] = dict(s, total_steps=SCHEDULE_STEPS, base_lr=SCHEDULE_BASE_LR)
    return tensors, configs


def self_check():
    # Without a floor the lambdas are transformers' own formulas; spot-check known values.
    cos = make_lambda("cosine", 2, 10, 0.0)
    assert cos(0) == 0.0 and cos(1) == 0.5 and cos(2) == 1.0 and cos(10) == 0.0
    lin = make_lambda("linear", 2, 10, 0.0)
    assert lin(6) == 0.5 and lin(12) == 0.0
    assert make_lambda("cosine", 0, 10, 0.1)(10) == 0.1


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "tests" / "golden" / "optim"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    self_check()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"generator": "tests/reference/gen_optim.py", "torch": torch.__version__}
    files = {}
    for i, c in enumerate(OPT_CASES):
        tensors, config = run_optimizer_case(c, seed=1000 + i)
        files[c["case"] + ".safetensors"] = encode_safetensors(
            tensors, dict(meta, config=json.dumps(config, sort_keys=True)))
    tensors, configs = run_schedules()
    files["schedules.safetensors"] = encode_safetensors(
        tensors, dict(meta, config=json.dumps(configs, sort_keys=True)))
    for name, data in files.items():
        write_atomic(out / name, data)
    sums = "".join("%s  %s\n" % (hashlib.sha256(files[n]).hexdigest(), n) for n in sorted(files))
    write_atomic(out / "SHA256SUMS", sums.encode("ascii"))
    print("wrote %d files + SHA256SUMS to %s" % (len(files), out))


if __name__ == "__main__":
    main()
