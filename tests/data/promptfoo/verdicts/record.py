"""Record promptfoo's own verdicts for promptfooconfig.yaml into expected.json.

    npm install promptfoo                       # in a scratch folder
    npx promptfoo eval -c promptfooconfig.yaml --no-cache -o out.json
    python record.py out.json "promptfoo X.Y.Z, Node.js N"

tests/unit/test_promptfoo.py compares Bakeoff's verdict (pass, score) for every test and every
assertion with these.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(out_json: str, source: str) -> None:
    results = json.loads(Path(out_json).read_text())["results"]["results"]
    verdicts = {}
    for r in results:
        g = r["gradingResult"]
        verdicts[r["testCase"]["description"]] = {
            "pass": g["pass"], "score": round(g["score"], 6),
            "assertions": [[(c.get("assertion") or {}).get("type"), c["pass"], c["score"]]
                           for c in g.get("componentResults", [])]}
    doc = {"source": source, "verdicts": verdicts}
    (Path(__file__).parent / "expected.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
