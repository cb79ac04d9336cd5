"""The agent's own overhead per investigation, beside the engine's time.

The LLM is a scripted model that follows the fixed plan (it answers instantly), so what is left after the
engine is what the agent adds: redaction (loading PII values), prompt building, tool wrapping and output
capping, the LangGraph loop, the number checker. Usage: python bench/bench_agent.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    from agent.citations import check_numbers, evidence_numbers
    from agent.incident import load_incident
    from agent.investigate import investigate
    from agent.llm_investigate import catalog_text, investigation_events, prompt
    from agent.privacy import Redactor
    from agent.report import Report
    from agent.scripted import ScriptedChatModel, plan_follower
    from agent.toolkit import Toolkit
    from evals.generator import generate
    from tools.settings import Settings
    from tools.workspace import Workspace

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rca-bench-agent-"))
    cases = {"example": ROOT / "tests" / "fixtures" / "example-scenario",
             "demo (pii_leak_deploy small)": generate("pii_leak_deploy", seed=1, size="small", out=tmp / "demo"),
             "target (120k rows)": generate("pii_leak_deploy", seed=1, size="small", out=tmp / "target", volume=6.0)}
    settings = Settings(chroma_path=tmp / "memory", embedding="lexical", artifacts_dir=tmp / "art")
    print(f"{'scenario':30} {'engine ms':>10} {'agent total ms':>15} {'overhead ms':>12} {'redactor':>9} "
          f"{'prompts':>8} {'checker':>8}")
    for name, path in cases.items():
        ws = Workspace.open(path, settings=settings)
        inc = load_incident(path / "incident.json")
        history = path / "history.jsonl" if (path / "history.jsonl").is_file() else None
        investigate(workspace=ws, incident=inc, history=history)  # warm imports and caches
        eng, tot, red_ms, pr_ms, chk_ms = [], [], [], [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            red = Redactor.for_workspace(ws)
            red_ms.append((time.perf_counter() - t0) * 1000)
            tk = Toolkit(ws=ws, incident=inc, settings=settings, redactor=red, history=history)
            t0 = time.perf_counter()
            model = ScriptedChatModel(policy=plan_follower)
            events = list(investigation_events(workspace=ws, incident=inc, model=model, settings=settings,
                                               history=history, toolkit=tk))
            tot.append((time.perf_counter() - t0) * 1000)
            eng.append(tk.engine_ms)
            report = Report.model_validate(events[-1].data)
            t0 = time.perf_counter()
            prompt("agent_system.md", catalog=catalog_text(tk))
            pr_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            check_numbers(report.narrative, evidence_numbers(report))
            chk_ms.append((time.perf_counter() - t0) * 1000)
        med = statistics.median
        overhead = med(tot) - med(eng) + med(red_ms)
        print(f"{name:30} {med(eng):10.0f} {med(tot):15.0f} {overhead:12.0f} {med(red_ms):9.1f} "
              f"{med(pr_ms):8.1f} {med(chk_ms):8.1f}")
    print("overhead = agent total - engine + the redactor load (PII values read once per investigation); it "
          "covers 7 scripted model turns, tool wrapping, prompts, the checker; the model latency is not included")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
