"""The LLM path with a scripted model that follows the fixed plan must rank exactly as the offline analyst.

    python -m evals.agent_parity [--only -01] [--limit N]

Generates the suite's scenarios whose name contains ``--only`` (default: seed 01 of every family) into
``evals/scenarios/parity``, runs both paths in-process and prints, per scenario, whether the rankings
(kind, id, score of every root cause) are identical and the AC@1 of each; exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "evals" / "scenarios" / "parity"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="-01")
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args(argv)
    if not OUT.is_dir() or not any(p.name.endswith(args.only) or args.only in p.name for p in OUT.iterdir()):
        subprocess.run([sys.executable, "-m", "evals.suite", "--out", str(OUT), "--only", args.only], check=True,
                       cwd=ROOT, capture_output=True)
    from agent.investigate import investigate_scenario
    from agent.llm_investigate import investigate_scenario_with_model
    from agent.scripted import ScriptedChatModel, plan_follower
    from evals.scorer import score_scenario
    from tools.settings import Settings

    dirs = sorted(p for p in OUT.iterdir() if p.is_dir() and args.only in p.name)
    if args.limit:
        dirs = dirs[: args.limit]
    same = 0
    ac_off = ac_llm = 0
    print(f"{'scenario':34} {'same ranking':>12} {'AC@1 offline':>12} {'AC@1 agent':>10} {'narrative':>14} "
          f"{'engine s':>8} {'agent s':>8}")
    for d in dirs:
        settings = Settings(chroma_path=OUT / ".memory", embedding="lexical", artifacts_dir=OUT / ".art")
        t0 = time.perf_counter()
        off = investigate_scenario(d, settings=settings)
        t1 = time.perf_counter()
        llm = investigate_scenario_with_model(d, model=ScriptedChatModel(policy=plan_follower), settings=settings)
        t2 = time.perf_counter()
        key = [(c.kind, c.id, c.score) for c in off.root_causes]
        ok = key == [(c.kind, c.id, c.score) for c in llm.root_causes] and off.anomaly == llm.anomaly \
            and off.segments == llm.segments and off.impact == llm.impact
        truth = json.loads((d / "truth.json").read_text())
        s_off = score_scenario(truth, json.loads(off.model_dump_json()), scenario=d.name)
        s_llm = score_scenario(truth, json.loads(llm.model_dump_json()), scenario=d.name, system="agent")
        same += ok
        ac_off += s_off.ac[1]
        ac_llm += s_llm.ac[1]
        print(f"{d.name:34} {str(ok):>12} {str(s_off.ac[1]):>12} {str(s_llm.ac[1]):>10} {llm.narrative_source:>14} "
              f"{t1 - t0:8.1f} {t2 - t1:8.1f}", flush=True)
    print(f"identical rankings {same}/{len(dirs)}; AC@1 offline {ac_off}/{len(dirs)}, agent {ac_llm}/{len(dirs)}")
    return 0 if same == len(dirs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
