"Explanations written later from the findings kept in the store read exactly as those written at detection time."
from dtsj_analysis.engine import run_detectors, explain_findings

def test_kept_findings_explain_as_at_detection(demo):
    for lang in ("uz", "ru", "en"):
        now = run_detectors(demo, "2025-04-21", "2025-04-28", lang=lang)
        kept = run_detectors(demo, "2025-04-21", "2025-04-28", lang=None)
        assert len(now) == len(kept) > 0
        later = explain_findings(kept, lang)
        differ = now.explanation != later
        assert not differ.any(), now[differ][["detector", "explanation"]].assign(later=later[differ]).head().to_string()
        assert not later.str.contains(r"\d{4}-\d\d-\d\dT\d\d:").any()
