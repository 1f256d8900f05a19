"""Run ``pip-audit`` over the project's installed dependencies and record the outcome.

Usage: ``python -m tests.reliability.audit [PIP_AUDIT_BINARY]``. pip-audit is
kept out of the project's environment (install it anywhere: ``pip install
pip-audit``); it audits a frozen list of this interpreter's packages. It needs
PyPI's advisory API; when that is unreachable every package is reported as
skipped, and the record says so rather than claiming "no vulnerabilities".
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.reliability.conftest import record


def main(binary: str | None = None) -> dict:
    binary = binary or shutil.which("pip-audit")
    if not binary:
        result = {"ran": False, "reason": "pip-audit is not installed (pip install pip-audit)"}
        record("security", "pip-audit", **result)
        return result
    frozen = subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
                            capture_output=True, text=True, check=True).stdout
    pins = [ln for ln in frozen.splitlines() if "==" in ln and " @ " not in ln]
    with tempfile.TemporaryDirectory() as tmp:
        req, out = Path(tmp) / "requirements.txt", Path(tmp) / "audit.json"
        req.write_text("\n".join(pins) + "\n")
        run = subprocess.run([binary, "-r", str(req), "--no-deps", "--disable-pip", "--format", "json", "-o", str(out)],
                             capture_output=True, text=True, timeout=600)
        try:
            deps = json.loads(out.read_text())["dependencies"]
        except (OSError, ValueError, KeyError):
            deps = []
    vulns = [{"package": d["name"], "version": d.get("version"), "id": v["id"], "fix": v.get("fix_versions")}
             for d in deps for v in d.get("vulns", [])]
    skipped = [d["name"] for d in deps if "skip_reason" in d]
    result = {
        "ran": True, "exit": run.returncode, "packages": len(pins), "audited": len(deps) - len(skipped),
        "skipped": len(skipped), "vulnerabilities": vulns,
        "note": ("PyPI's advisory API was not reachable from this machine: every package was skipped "
                 "('not found on PyPI'), so nothing was actually audited") if deps and len(skipped) == len(deps)
        else (run.stderr.strip().splitlines() or [""])[-1][:200],
    }
    record("security", "pip-audit", **result)
    return result


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else None), indent=1))
